"""Alert rules, recording rules, SLO burn-rate alerts and Alertmanager routing."""
