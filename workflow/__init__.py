"""Safeguard Flow's engine core.

The rule of this package: no IO and no framework. It parses, validates and lints process definitions,
runs instances on SpiffWorkflow inside a sandbox, and returns plain dataclasses. It never opens a file,
a socket or a database; callers hand it bytes and strings and get bytes and strings back.
Only `workflow/spiff_engine.py` imports SpiffWorkflow, and Spiff objects never leave that module.
"""
