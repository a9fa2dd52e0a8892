"""Reports: the school's (and trust's) pattern as numbers, counted in SQL (issue 11)."""
