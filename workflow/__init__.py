"""Safeguard Flow's engine core.

The rule of this package: no IO and no framework. It parses, validates and lints process
definitions, runs instances on SpiffWorkflow inside a sandbox, and returns plain dataclasses. It
never opens a file, a socket or a database; callers hand it bytes and strings and get bytes and
strings back. Only the `workflow/spiff_*.py` modules import SpiffWorkflow, and Spiff objects never
leave them.
"""
