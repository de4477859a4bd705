#!/usr/bin/env python3
"""Query cost of a full refresh: our dashboards vs vLLM's upstream dashboards.

    python bench/dashboard_refresh.py [--replicas 100] [--hours 6] [--reps 5]
    python bench/dashboard_refresh.py --all-dashboards --upstream-dir DIR [...]

By default: our single pane against vLLM's overview (its queries vendored in
bench/upstream_vllm_overview/). `--all-dashboards` times every dashboard the bundle ships
(the single pane, KV cache & disaggregation, instance drill-down) as one refresh of "ours";
with `--upstream-dir DIR` "upstream" is all five of vLLM's dashboards: the vendored
overview plus vllm_instances.json, vllm_kv_cache.json, vllm_speculative_decoding.json and
vllm_service_status.json from DIR, as published in vLLM's
`examples/observability/dashboards/grafana/` at the commits pinned in
bench/upstream_vllm_dashboards/SOURCE.md (download them there; they are not vendored).
Both sides are refreshed as Grafana refreshes a dashboard on open: panels in collapsed rows
are not queried (upstream's KV Cache connector rows and Instances' sleep and MFU rows; our
companions' connector, sleep and speculative-decoding rows), and Service Status's row
repeated per `model_name` is queried once per model. `--expanded` queries every panel of
both, collapsed rows opened. Without
`--upstream-dir`, `--all-dashboards` compares ours with the overview alone (an upper
bound of the ratio).

Backfills `--hours` of catalog-accurate history for `--replicas` simulated vLLM replicas
(half per configured model, each model in its own namespace, with their DCGM GPUs) into a
real `prometheus` on a free port in a temp dir, plus the bundle's dashboard recordings
(group `vllm.recording` from `rule_groups(cfg)`), backfilled over the same history with
`promtool tsdb create-blocks-from rules` and loaded, as a Prometheus that has run the rules
for that long would hold them (the alerting groups are not loaded: their evaluation would
compete with the timed queries on the same CPUs), then times every panel
query of both dashboards as Grafana would send them for a `--width` px panel over the whole
range. The two dashboards run interleaved (alternating which goes first) for `--reps`
repetitions after one warm-up; the median per dashboard is reported with the ratio.

Variables are substituted the same way for both: multi-selects at All (`.*`), upstream's
SLO variables at their defaults, `$__range` = the range, `$__rate_interval` =
max(step + scrape, 4 x scrape) as Grafana computes it. Stats and instant targets are
instant queries at the end of the range; everything else is a range query.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observability.config import load_config  # noqa: E402
from observability.dashboards import DASHBOARDS  # noqa: E402
from observability.dashboards.exprs import (  # noqa: E402
    PanelQuery,
    iter_panels,
    panel_queries,
    substitute,
    template_values,
)
from observability.local.binaries import find_binary  # noqa: E402
from observability.local.ports import PortAllocator  # noqa: E402
from observability.local.prometheus import start_prometheus as _start_prometheus  # noqa: E402
from observability.process import Supervisor  # noqa: E402
from testkit.rulefill import backfill_recordings, write_rule_files  # noqa: E402
from testkit.synthetic import SyntheticFleet, backfill_fleets  # noqa: E402

OURS = ROOT / "dashboards" / "vllm-single-pane.json"
UPSTREAM = ROOT / "bench" / "upstream_vllm_overview" / "vllm_overview.queries.json"
UPSTREAM_DEFAULTS = {"ttft_slo": "1.0", "tpot_slo": "0.1"}
# vLLM's four other dashboards, read from --upstream-dir (pins: upstream_vllm_dashboards/)
UPSTREAM_OTHERS = (
    "vllm_instances.json",
    "vllm_kv_cache.json",
    "vllm_speculative_decoding.json",
    "vllm_service_status.json",
)

# Grafana's rangeutil.roundInterval: (upper bound ms, rounded ms), first match wins.
_ROUND = [
    (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
    (90000, 60000), (210000, 120000), (450000, 300000), (900000, 600000),
    (1200000, 900000), (2700000, 1200000), (5400000, 3600000),
]  # fmt: skip


def grafana_step(range_s: float, width_px: int, scrape_s: float) -> float:
    """The step Grafana sends: range / maxDataPoints rounded, at least the scrape interval."""
    raw_ms = range_s * 1000 / width_px
    rounded = next((r for bound, r in _ROUND if raw_ms < bound), 10800000)
    return max(rounded / 1000, scrape_s)


@dataclass(frozen=True)
class Query:
    panel: str
    expr: str
    instant: bool


def dashboard_queries(
    path: Path,
    rate_interval: str,
    range_: str,
    values: dict,
    prefix: str = "",
    expanded: bool = False,
) -> list[Query]:
    """The queries one refresh of a dashboard sends (collapsed rows skipped unless
    `expanded`)."""
    dash = json.loads(path.read_text())
    variables = template_values(dash, values)
    shown = {id(p) for p, _ in visible_panels(dash, {}, expanded)}
    return [
        _query(q, f"{prefix}{q.panel_id}:{q.title}", variables, rate_interval, range_)
        for p in iter_panels(dash)
        if id(p) in shown
        for q in panel_queries({"panels": [p]})
    ]


def _query(q: PanelQuery, panel: str, variables: dict, rate_interval: str, range_: str) -> Query:
    """One panel target as the refresh sends it: variables substituted, instant or range."""
    return Query(
        panel=panel,
        expr=substitute(q.expr, variables, rate_interval=rate_interval, range_=range_),
        instant=_is_instant(q),
    )


def visible_panels(
    dash: dict, repeat_values: dict[str, list[str]], expanded: bool = False
) -> list[tuple[dict, dict]]:
    """(panel, pinned variables) for every panel Grafana queries when the dashboard opens:
    panels of collapsed rows are skipped (with `expanded`, queried as if opened); a row
    with `repeat: var` is queried once per value of `var` (every panel after it up to the
    next row), each with `var` pinned."""
    out: list[tuple[dict, dict]] = []
    repeat: str | None = None
    for panel in dash.get("panels", []):
        if panel.get("type") == "row":
            repeat = panel.get("repeat") or None
            if expanded:  # a collapsed row's panels sit inside it
                out += [(p, {}) for p in panel.get("panels", [])]
            continue
        if repeat:
            out += [(panel, {repeat: v}) for v in repeat_values.get(repeat, [".*"])]
        else:
            out.append((panel, {}))
    return out


def upstream_queries(
    path: Path,
    rate_interval: str,
    range_: str,
    repeat_values: dict[str, list[str]],
    expanded: bool = False,
) -> list[Query]:
    """The queries one refresh of an upstream dashboard (full Grafana JSON) sends."""
    dash = json.loads(path.read_text())
    defaults = {
        v["name"]: str(v["current"]["value"])
        for v in dash.get("templating", {}).get("list", [])
        if v.get("type") in ("custom", "constant", "textbox") and v.get("current")
    }
    out = []
    for panel, pinned in visible_panels(dash, repeat_values, expanded):
        variables = template_values(dash, {**defaults, **pinned})
        suffix = "".join(f"[{v}]" for v in pinned.values())
        out += [
            _query(
                q, f"{path.name}#{q.panel_id}:{q.title}{suffix}", variables, rate_interval, range_
            )
            for q in panel_queries({"panels": [panel]})
        ]
    return out


def _is_instant(q: PanelQuery) -> bool:
    return q.instant or q.kind in ("stat", "gauge", "bargauge")


def run_refresh(
    http: httpx.Client, queries: list[Query], start: float, end: float, step: float
) -> tuple[float, dict[str, float], set[str]]:
    """Total seconds, seconds per panel, and the panels that returned data."""
    per_panel: dict[str, float] = {}
    with_data: set[str] = set()
    for q in queries:
        if q.instant:
            path, params = "/api/v1/query", {"query": q.expr, "time": end}
        else:
            params = {"query": q.expr, "start": start, "end": end, "step": step}
            path = "/api/v1/query_range"
        t0 = time.perf_counter()
        resp = http.post(path, data=params)
        dt = time.perf_counter() - t0
        body = resp.json()
        if body.get("status") != "success":
            raise SystemExit(f"query failed ({body.get('error')}): {q.expr[:200]}")
        per_panel[q.panel] = per_panel.get(q.panel, 0.0) + dt
        result = body["data"]["result"]
        if result and body["data"]["resultType"] != "scalar":
            with_data.add(q.panel)
    return sum(per_panel.values()), per_panel, with_data


def start_prometheus(sup: Supervisor, tmp: Path, port: int, rule_files: list[Path]) -> str:
    config = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [],
    }
    _, url = _start_prometheus(
        sup, config, tmp, port, extra_args=["--storage.tsdb.retention.time=30d"], ready_timeout=120
    )
    return url


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--width", type=int, default=1500, help="panel width in px (maxDataPoints)")
    ap.add_argument("--vllm-version", default="0.33.0", help="catalog the replicas expose")
    ap.add_argument("--no-rules", action="store_true", help="run without our recording rules")
    ap.add_argument("--per-panel", action="store_true", help="print every panel's time")
    ap.add_argument(
        "--expanded",
        action="store_true",
        help="query the panels of collapsed rows too, on both sides (every row opened)",
    )
    ap.add_argument(
        "--all-dashboards",
        action="store_true",
        help="time every dashboard the bundle ships (the pane and its companions) as ours",
    )
    ap.add_argument(
        "--upstream-dir",
        type=Path,
        help="with --all-dashboards: vLLM's other four dashboards (vllm_instances.json, "
        "vllm_kv_cache.json, vllm_speculative_decoding.json, vllm_service_status.json) as "
        "published at the commits in bench/upstream_vllm_dashboards/SOURCE.md",
    )
    args = ap.parse_args(argv)
    if args.upstream_dir is not None:
        missing = [n for n in UPSTREAM_OTHERS if not (args.upstream_dir / n).is_file()]
        if missing or not args.all_dashboards:
            ap.error(
                "--upstream-dir needs --all-dashboards and "
                + (", ".join(missing) if missing else "the four dashboards")
                + f" in {args.upstream_dir} (see bench/upstream_vllm_dashboards/SOURCE.md)"
            )

    cfg = load_config(ROOT / "bundle.yaml")
    scrape_s = int(cfg.prometheus.scrape_interval.rstrip("s"))
    range_s = int(args.hours * 3600)
    step = grafana_step(range_s, args.width, scrape_s)
    rate_interval = f"{int(max(step + scrape_s, 4 * scrape_s))}s"
    range_ = f"{range_s}s"
    end = (int(time.time()) // 60) * 60 - 60
    start = end - range_s

    models = [m.served_name for _k, m in sorted(cfg.models.items())]
    per_model = max(1, args.replicas // len(models))
    fleets = [
        SyntheticFleet(
            vllm_version=args.vllm_version,
            replicas=per_model,
            models=(model,),
            namespace=cfg.namespaces.vllm if i == 0 else f"{cfg.namespaces.vllm}-{i + 1}",
            seconds=range_s + 600,
            step=scrape_s,
            end=end,
        )
        for i, model in enumerate(models)
    ]
    if args.all_dashboards:
        ours = [
            q
            for name in DASHBOARDS
            for q in dashboard_queries(
                ROOT / "dashboards" / name,
                rate_interval,
                range_,
                {},
                prefix=f"{name}#",
                expanded=args.expanded,
            )
        ]
    else:
        ours = dashboard_queries(OURS, rate_interval, range_, {}, prefix=f"{OURS.name}#")
    upstream = dashboard_queries(
        UPSTREAM, rate_interval, range_, UPSTREAM_DEFAULTS, prefix="vllm_overview.json#"
    )
    if args.upstream_dir is not None:
        repeat = {"model_name": models}  # what All expands a repeated row to
        for name in UPSTREAM_OTHERS:
            upstream += upstream_queries(
                args.upstream_dir / name, rate_interval, range_, repeat, args.expanded
            )
    print(
        f"ours: {len(ours)} queries; upstream: {len(upstream)} queries "
        f"({'all five' if args.upstream_dir else 'the overview'}"
        f"{', collapsed rows opened' if args.expanded else ''})",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="dashboard-refresh-") as tmp_s:
        tmp = Path(tmp_s)
        t0 = time.perf_counter()
        print(
            f"backfilling {per_model * len(models)} replicas x {args.hours:g} h at "
            f"{scrape_s}s ({args.vllm_version} names, {len(models)} models/namespaces) ...",
            flush=True,
        )
        samples = backfill_fleets(fleets, tmp / "data", promtool=str(find_binary("promtool")))
        print(f"  {samples / 1e6:.1f}M samples in {time.perf_counter() - t0:.0f} s", flush=True)
        ports = PortAllocator()
        sup = Supervisor(tmp / "logs")
        try:
            port = ports.one()
            url = start_prometheus(sup, tmp, port, [])
            if not args.no_rules:
                t0 = time.perf_counter()
                rules = write_rule_files(cfg, tmp / "rules")[:1]
                print("backfilling the vllm.recording rules over the history ...", flush=True)

                def restart() -> None:
                    sup.stop()
                    start_prometheus(sup, tmp, port, [])

                backfill_recordings(
                    url, rules[0], tmp / "data", start - 600, end, f"{scrape_s}s",
                    str(find_binary("promtool")), restart=restart,
                )  # fmt: skip
                sup.stop()
                url = start_prometheus(sup, tmp, port, rules)
                print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)
            report(url, ours, upstream, start, end, step, rate_interval, args)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            sup.stop()
            ports.release()
    return 0


def report(url, ours, upstream, start, end, step, rate_interval, args) -> None:
    print(
        f"range {args.hours:g} h, step {step:g}s ({args.width} px), $__rate_interval "
        f"{rate_interval}, {args.reps} interleaved reps after 1 warm-up",
        flush=True,
    )
    runs: dict[str, list[float]] = {"ours": [], "upstream": []}
    panels: dict[str, list[dict[str, float]]] = {"ours": [], "upstream": []}
    data: dict[str, set[str]] = {}
    dashboards = {"ours": ours, "upstream": upstream}
    with httpx.Client(base_url=url, timeout=300) as http:
        for name, qs in dashboards.items():
            _t, _p, data[name] = run_refresh(http, qs, start, end, step)
        for rep in range(args.reps):
            order = ["ours", "upstream"] if rep % 2 == 0 else ["upstream", "ours"]
            for name in order:
                total, per, _ = run_refresh(http, dashboards[name], start, end, step)
                runs[name].append(total)
                panels[name].append(per)
            print(
                f"  rep {rep + 1}: ours {runs['ours'][-1]:.3f} s, "
                f"upstream {runs['upstream'][-1]:.3f} s",
                flush=True,
            )
    med = {k: statistics.median(v) for k, v in runs.items()}
    print()
    print(f"{'dashboard':<10} {'panels':>6} {'w/ data':>7} {'queries':>7} "
          f"{'median s':>9} {'ms/panel':>9} {'ms/query':>9}")  # fmt: skip
    for name, qs in dashboards.items():
        n_panels = len({q.panel for q in qs})
        print(
            f"{name:<10} {n_panels:>6} {len(data[name]):>7} {len(qs):>7} {med[name]:>9.3f} "
            f"{1000 * med[name] / n_panels:>9.1f} {1000 * med[name] / len(qs):>9.1f}"
        )
    ratio = med["ours"] / med["upstream"]
    verdict = "meets" if ratio <= 0.5 else "MISSES"
    print(f"\nratio ours/upstream (median total query time): {ratio:.2f} ({verdict} <= 0.50)")
    for name in dashboards:
        slow = {p: statistics.median(r[p] for r in panels[name]) for p in panels[name][0]}
        files: dict[str, list[float]] = {}
        for p, t in slow.items():
            files.setdefault(p.split("#", 1)[0], []).append(t)
        print(f"\n{name}: per dashboard (sum of per-panel medians)")
        for f, ts in sorted(files.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {1000 * sum(ts):8.1f} ms  {len(ts):3d} panels  {f}")
        top = sorted(slow.items(), key=lambda kv: -kv[1])
        shown = top if args.per_panel else top[:5]
        print(f"\n{name}: {'all panels' if args.per_panel else 'slowest panels'} (median ms)")
        for p, s in shown:
            print(f"  {1000 * s:8.1f}  {p}")


if __name__ == "__main__":
    sys.exit(main())
