"""Scheduling machinery: when schedules are due (timing) and the loop that fires them (loop)."""
