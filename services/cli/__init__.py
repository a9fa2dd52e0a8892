"""The `safeguard` command line."""
