"""Stage: lint."""
