"""Stage: local."""
