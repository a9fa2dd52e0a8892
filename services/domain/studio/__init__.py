"""The process studio's use cases: drafts, checks, four-eyes approval, publishing, versions."""
