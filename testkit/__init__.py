"""Fixtures shared by tests/ and bench/, kept out of the shipped `observability` package.

`synthetic`: catalog-accurate history for simulated fleets, backfilled into a real Prometheus.
`rulefill`: the bundle's dashboard recordings backfilled over that history with promtool.
"""
