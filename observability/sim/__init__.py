"""Stage: sim."""
