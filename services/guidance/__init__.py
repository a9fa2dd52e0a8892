"""Trace from the guidance's numbered steps to the default process, its scenarios and tests."""
