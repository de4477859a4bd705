"""Stage: load."""
