"""Command and query handlers, one module per use case; each runs in ONE unit of work."""
