"""Timers: the scheduler that fires due incident timers, and the school-day calendar."""
