"""One module per obsctl command (group); cli.py composes them."""
