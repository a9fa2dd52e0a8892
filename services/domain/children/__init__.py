"""Children as records: who is involved, their chronology, file transfers, retention (issue 11)."""
