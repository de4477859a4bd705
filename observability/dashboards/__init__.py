"""Grafana single-pane dashboard as code, push to Grafana, snapshot without Grafana."""
