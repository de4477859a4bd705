"""Generated mutants as the measure: a seeded sample of cosmic-ray's mutants, each judged.

    .venv/bin/python bench/mutants.py [--seed 28] [--sample 150] [--jobs 2] [--json PATH]
    .venv/bin/python bench/mutants.py --only ID,ID      # re-judge some mutants (ids as printed)
    .venv/bin/python bench/mutants.py --count           # mutants per module, no run

`bench/mutation.py` runs a curated list (the fast subset); this bench measures the suite
against mutants it did not choose. cosmic-ray's operators (its library API: the `core/*`
operator plugins over a parso tree, as `cosmic-ray init` enumerates them) generate every
mutant over the modules in MODULES; a fixed random sample (seeded) is drawn from that
list, sorted by (file, operator, occurrence). Each mutant is applied to a throwaway copy of
the working tree (without .git/.venv) and judged there:

1. `obsctl render --check`: the committed rendered files must still match (a mutant that
   changes a rule, a dashboard or a manifest is caught by the committed artifacts);
2. the fast test files that cover its module (TESTS, a small mapping by path prefix), as
   `pytest -x -q -p no:cacheprovider`.

A mutant that changes only annotations is EQUIVALENT without being run
(`annotation_only`): in a module with `from __future__ import annotations`, when its AST
equals the original's once the annotations of function arguments and returns, and of
variables annotated inside a function body, are stripped. Those annotations are never
evaluated (nothing in these modules calls `typing.get_type_hints` on a function; typer, which
does, reads only the commands' modules, which are not mutated). Class- and module-level
annotations are kept: pydantic evaluates a model's field annotations.

KILLED when either fails (or runs past its timeout: max(120 s, 3x the subset's clean run),
so a loaded machine does not time out a clean subset), SURVIVED otherwise. `obsctl lint`
is not run per mutant: it has no option to skip its slow stages (about 18 s alone). Each
test subset first runs on the clean copy (baseline); a subset failing there is reported
and its mutants are not counted. Mutants run `--jobs` at a time at `--nice` (10).

A mutant id is `path:operator:occurrence` (the occurrence is cosmic-ray's index of that
operator's positions in that file), so ids are stable while the module's code is.
EQUIVALENT lists sampled survivors judged to change no behaviour, with why; they and the
annotation-only mutants are reported apart and left out of the score.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# the throwaway copy of the tree and the command runner are the curated bench's
from mutation import (
    ROOT,
    _copy,
)
from mutation import _run as run_in

# A mutant's tests time out at max(TIMEOUT_S, TIMEOUT_FACTOR x its subset's clean run)
# (a mutant that makes the tests hang is killed); without a baseline, NO_BASELINE_TIMEOUT_S.
TIMEOUT_S = 120
TIMEOUT_FACTOR = 3
NO_BASELINE_TIMEOUT_S = 600
BASELINE_TIMEOUT_S = 900
DEFAULT_SEED = 28
DEFAULT_SAMPLE = 150

MODULES = (
    "observability/alerting/*.py",
    "observability/dashboards/*.py",
    "observability/render/*.py",
    "observability/kube.py",
    "observability/config*.py",
    "observability/config/*.py",
    "observability/runtimes/*.py",
    "observability/verify/*.py",
    "observability/sim/metrics.py",
)

# Path prefix -> the fast test files that cover it (first match wins).
TESTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "observability/alerting/",
        (
            "tests/test_alerts_thresholds.py",
            "tests/test_alerts_targets.py",
            "tests/test_alerts_rules.py",
        ),
    ),
    # present_families/empty_report ask a real Prometheus: the backfilled one of
    # test_dashboards_data (about 60 s); push speaks to a local fake Grafana over HTTP
    (
        "observability/dashboards/check.py",
        (
            "tests/test_dashboards_build.py",
            "tests/test_dashboards_scope.py",
            "tests/test_dashboards_data.py",
        ),
    ),
    ("observability/dashboards/push.py", ("tests/test_dashboards_push.py",)),
    (
        "observability/dashboards/",
        (
            "tests/test_dashboards_build.py",
            "tests/test_dashboards_scope.py",
            "tests/test_dashboards_families.py",
            "tests/test_panel_meaning.py",
            "tests/test_router_dashboard.py",  # the router row (not in the default bundle)
        ),
    ),
    # KEDA's Application (ignoreDifferences on spec.replicas): not in the default bundle
    (
        "observability/render/argocd.py",
        (
            "tests/test_render.py",
            "tests/test_gitops_render.py",
            "tests/test_model_source.py",
            "tests/test_runtimes.py::test_keda_scaled_object_app_and_alerts",
        ),
    ),
    # the router chart's values: rendered only with gateway.inference_pool.install: chart
    ("observability/render/router_chart.py", ("tests/test_router_render.py",)),
    (
        "observability/render/",
        ("tests/test_render.py", "tests/test_gitops_render.py", "tests/test_model_source.py"),
    ),
    ("observability/kube.py", ("tests/test_render.py", "tests/test_gitops_render.py")),
    (
        "observability/config",
        (
            "tests/test_config.py",
            "tests/test_config_validators.py",
            "tests/test_config_reference.py",
            "tests/test_model_source.py",
            # derived settings (the DCGM Service of gpu-operator mode) seen in the manifests
            "tests/test_gitops_render.py",
        ),
    ),
    # KServe and LWS have their own files (about 65 s and 20 s); the other runtimes are
    # rendered and their rules run in Prometheus by test_runtimes + test_runtimes_rules
    ("observability/runtimes/kserve.py", ("tests/test_kserve.py", "tests/test_architecture.py")),
    ("observability/runtimes/lws.py", ("tests/test_lws.py", "tests/test_architecture.py")),
    ("observability/runtimes/tgi.py", ("tests/test_tgi.py", "tests/test_runtimes.py")),
    (
        "observability/runtimes/",
        (
            "tests/test_runtimes.py",
            "tests/test_runtimes_rules.py",
            "tests/test_architecture.py",
        ),
    ),
    # the checks are driven to FAIL/WARN in test_verify_failures (about 60 s, the slowest here);
    # the runtime checks also against each runtime's rendered objects, KServe and LWS in
    # their own file
    (
        "observability/verify/checks_runtimes.py",
        (
            "tests/test_verify_failures.py",
            "tests/test_verify_runtimes.py",
            "tests/test_verify_kserve_lws.py",  # KServe's monitors, LWS pods (about 40 s)
        ),
    ),
    # the checks test_verify_failures names as driven in another file (COVERED_THERE and
    # COVERED_RUNTIMES there): that file too
    *(
        (
            f"observability/verify/{m}.py",
            (
                *(f"tests/{t}.py" for t in ts),
                "tests/test_verify_failures.py",
                "tests/test_verify_units.py",
            ),
        )
        for m, ts in (
            ("checks_argocd", ("test_verify_cluster",)),
            ("checks_crds", ("test_verify_cluster",)),
            ("checks_gpu", ("test_verify_cluster",)),
            ("checks_scrape", ("test_verify_cluster",)),
            ("checks_delivery", ("test_verify_delivery",)),
            ("checks_remote", ("test_verify_remote",)),
            ("checks_router", ("test_router_verify",)),
            ("checks_drift", ("test_verify_drift", "test_verify_cluster")),
        )
    ),
    # every other check: the healthy cluster (all PASS) and the failures
    (
        "observability/verify/checks",
        (
            "tests/test_verify_cluster.py",
            "tests/test_verify_failures.py",
            "tests/test_verify_units.py",
        ),
    ),
    # the kubeconfig and connection errors `obsctl verify` prints, through the CLI
    (
        "observability/verify/k8s.py",
        (
            "tests/test_cli_contract.py::test_broken_kubeconfigs_one_line_with_fix",
            "tests/test_cli_contract.py::test_hung_and_refused_agree",
            "tests/test_verify_units.py",
            "tests/test_verify_runtimes.py",
            "tests/test_verify_drift.py",
        ),
    ),
    # the context's cluster reads (the Prometheus object, Services) serve the checks: the
    # healthy cluster and its failures read them
    (
        "observability/verify/context.py",
        (
            "tests/test_verify_cluster.py",
            "tests/test_verify_units.py",
            "tests/test_verify_runtimes.py",
        ),
    ),
    (
        "observability/verify/",
        (
            "tests/test_verify_units.py",
            "tests/test_verify_runtimes.py",
            "tests/test_verify_drift.py",
        ),
    ),
    (
        "observability/sim/metrics.py",
        (
            "tests/test_sim_catalog.py",
            "tests/test_sim_metrics_cache.py",
            "tests/test_sim_gauges.py",
            # the sleep-state gauge follows /sleep and /wake_up, not load
            "tests/test_sim_faults.py::test_sleep_sets_the_sleep_state_and_holds_requests",
        ),
    ),
)

# Sampled survivors that change no behaviour: id -> why (see docs/testing.md). Mutants of
# annotations only are not listed: `annotation_only` classifies them.
EQUIVALENT: dict[str, str] = {
    "observability/config/reference.py:ReplaceComparisonOperator_Is_Eq:6": "`default is"
    " PydanticUndefined` -> `==`: the sentinel's type defines no __eq__, so == is identity for"
    " it, and no default's own __eq__ equals it",
    "observability/config_errors.py:ReplaceComparisonOperator_IsNot_NotEq:0": "`t is not"
    " type(None)` -> `!=`: types compare by identity",
    "observability/config_errors.py:NumberReplacer:12": "get_close_matches n=1 -> n=2: only"
    " the best match (close[0], first in both) is used",
    "observability/dashboards/queries.py:NumberReplacer:6": "str.replace count 1 -> 2 on the"
    " firing selector, which holds one `ALERTS{`",
    "observability/runtimes/rayservice.py:ReplaceComparisonOperator_Eq_Is:1": "`cand =="
    " cands[0]` -> `is`: cand iterates cands, whose two names differ (one ends in _total), so"
    " equality and identity pick the same first element",
    "observability/verify/bundle.py:ReplaceComparisonOperator_Eq_Is:0": "`kind =="
    ' "Application"` -> `is`: every Application comes from a builder\'s literal, and CPython'
    " interns identifier-like string constants, so the same object",
    "observability/sim/metrics.py:NumberReplacer:92": "TTFT observed while `len(output) <= 1`"
    " -> `<= 2`: a request enters prompt_done only at its first prefill, with no output, and"
    " that step emits exactly one token, so the length is always 1 there",
    "observability/sim/metrics.py:NumberReplacer:75": "the simulated"
    " process_virtual_memory_bytes 12 GiB -> 6 GiB: no rule, panel, verify check or bench"
    " reads that family (the process panel reads resident memory and descriptors), so"
    " nothing the bundle shows changes",
    "observability/verify/context.py:NumberReplacer:0": "the default of Options.http_timeout"
    " 5.0 -> 6.0: `obsctl verify` always passes its own (min(5 s, --timeout / 2))",
    "observability/verify/drift.py:ReplaceBinaryOperator_Sub_BitOr:0": "the empty name added"
    " to (instead of taken from) the families Prometheus returned: no expression reads a family"
    " named '', and the version is guessed from the `vllm:` names only",
    "observability/dashboards/exprs.py:NumberReplacer:18": "promtool's subprocess timeout"
    " 60 s -> 61 s: differs only for a promtool hanging between the two",
    "observability/config_errors.py:NumberReplacer:34": "sort key of an error line without"
    " a position (0, 0) -> (0, 1): positioned lines start at line 1, so the order is the same",
    "observability/dashboards/availability.py:NumberReplacer:7": "the idle note of an"
    " expression's last IDLE family instead of its first: the families of one expression are"
    " a hits/lookups pair that shares one note",
    "observability/verify/bundle.py:ExceptionReplacer:0": "the YAMLError handler of `_docs`"
    " for text content: every builder it reads returns objects, never text, so it is unreachable",
    "observability/verify/drift.py:ReplaceComparisonOperator_Gt_NotEq:0": "`value > 0` ->"
    " `value != 0` on request counters and histogram counts, which are never negative",
    "observability/verify/k8s.py:NumberReplacer:12": "the default timeout of Cluster.connect"
    " 5.0 -> 6.0: its one caller (verify/api.py) always passes --timeout's value",
    "observability/verify/model.py:ReplaceTrueWithFalse:1": "Check becomes a mutable,"
    " unhashable dataclass: no code assigns a Check's fields or hashes one",
    "observability/runtimes/aibrix.py:ReplaceComparisonOperator_Eq_GtE:0": "`component =="
    ' "gateway-plugins"` -> `>=`: of the two components, controller-manager sorts before and'
    " gateway-plugins equal, so both comparisons pick the same impact text",
    "observability/verify/checks_scrape.py:RemoveDecorator:0": "`@functools.cache` off the"
    " per-run namespace-labels lookup: the same GET is repeated per monitor instead of once per"
    " namespace, with the same answer (a cost, not a behaviour)",
    "observability/dashboards/queries.py:ReplaceTrueWithFalse:0": "Queries becomes a"
    " mutable, unhashable dataclass: no code assigns its fields or hashes one",
    "observability/dashboards/push.py:ReplaceTrueWithFalse:0": "GrafanaAuth becomes a"
    " mutable, unhashable dataclass: it is built once per push and only read, never assigned"
    " or hashed",
    "observability/config/reference.py:ReplaceComparisonOperator_Eq_Is:1": '`inner[0] == "."`'
    ' -> `is`: CPython keeps one object per one-character string, so `is "."` is true exactly'
    ' when `== "."` is',
    "observability/verify/checks_crds.py:ReplaceComparisonOperator_Eq_LtE:3": "`type =="
    ' "Available"` -> `<=` on a Prometheus or Alertmanager condition: prometheus-operator sets'
    " two types, Available and Reconciled, and Reconciled sorts after, so both comparisons"
    " pick the same condition",
    "observability/verify/checks_rules.py:ReplaceComparisonOperator_Eq_Is:0": "`health =="
    ' "err"` -> `is`: Prometheus reports health "err" exactly when the rule\'s last evaluation'
    " error is set, and that lastError is the `or` beside it, so the rule is named either way",
    "observability/verify/drift.py:AddNot:1": "suffixes stripped from the sample names that"
    " do not end in them (removesuffix is then a no-op) instead of those that do: the parser"
    " already names every histogram, summary and counter family by its base name, added just"
    " above, so the set is the same for any typed exposition (vLLM, Ray, TGI and DCGM type"
    " every family)",
    "observability/verify/k8s.py:ExceptionReplacer:7": "OSError left out of the proxy's"
    " unreachable handler: urllib3 wraps socket errors (refused, reset, TLS) into its own"
    " HTTPError subclasses (NewConnectionError/MaxRetryError, ProtocolError, SSLError), which"
    " the same clause still catches",
    "observability/verify/k8s.py:NumberReplacer:8": "the default timeout of Cluster.__init__"
    " 5.0 -> 6.0: its one constructor call (Cluster.connect) always passes the timeout",
    "observability/sim/metrics.py:NumberReplacer:53": "the awake default of sleep_level 1 ->"
    " 0: it is read only where the engine_sleep_state family is absent (0.7.3, 0.10.1;"
    " _precreate sets awake=1 wherever the family exists), and there the >= 0.26 version"
    " gate already returns False",
}


@dataclass(frozen=True)
class Mutant:
    file: str
    operator: str
    occurrence: int
    line: int

    @property
    def id(self) -> str:
        return f"{self.file}:{self.operator.removeprefix('core/')}:{self.occurrence}"


def tests_for(path: str) -> tuple[str, ...]:
    for prefix, tests in TESTS:
        if path.startswith(prefix):
            return tests
    raise KeyError(f"no test mapping for {path}")


def _operators() -> list[tuple[str, object]]:
    import cosmic_ray.plugins

    ops = []
    for name in cosmic_ray.plugins.operator_names():
        cls = cosmic_ray.plugins.get_operator(name)
        if cls.arguments():  # VariableReplacer/Inserter need a cause and an effect variable
            continue
        ops.append((name, cls()))
    return ops


def module_files() -> list[str]:
    files: set[str] = set()
    for pattern in MODULES:
        files.update(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern))
    return sorted(files)


def enumerate_mutants(files: list[str]) -> list[Mutant]:
    """Every mutant cosmic-ray's operators make over the files, in its occurrence order."""
    from cosmic_ray.ast import ast_nodes, get_ast

    ops = _operators()
    out: list[Mutant] = []
    for f in files:
        nodes = list(ast_nodes(get_ast((ROOT / f).read_text(encoding="utf-8"))))
        for name, op in ops:
            occ = 0
            for node in nodes:
                for start, _end in op.mutation_positions(node):
                    out.append(Mutant(f, name, occ, start[0]))
                    occ += 1
    return out


def mutate(m: Mutant, source: str) -> str | None:
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    return mutate_code(source, cosmic_ray.plugins.get_operator(m.operator)(), m.occurrence)


def _future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )


class _StripAnnotations(ast.NodeTransformer):
    """Drops the annotations `from __future__ import annotations` leaves unevaluated where no
    caller reads them: function arguments and returns, and variables annotated in a function
    body (a class body's annotations stay: pydantic evaluates a model's fields)."""

    def __init__(self) -> None:
        self.depth = 0  # enclosing functions

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.returns = None
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        self.generic_visit(node)
        if self.depth:
            node.annotation = ast.Constant(value=None)
        return node


def annotation_only(original: str, mutated: str) -> bool:
    """True when the mutant differs from the original only in annotations that are never
    evaluated (see `_StripAnnotations`), in a module with `from __future__ import
    annotations`: such a mutant is equivalent by construction."""
    try:
        old, new = ast.parse(original), ast.parse(mutated)
    except SyntaxError:
        return False
    if not _future_annotations(old) or ast.dump(old) == ast.dump(new):
        return False
    strip = ast.dump(_StripAnnotations().visit(old)), ast.dump(_StripAnnotations().visit(new))
    return strip[0] == strip[1]


ANNOTATION_ONLY = "annotation only: an argument/return or local annotation, never evaluated"


def diff_lines(old: str, new: str) -> list[str]:
    return [
        ln
        for ln in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]


# test subset -> seconds its clean run took (filled by baseline())
BASELINE_S: dict[tuple[str, ...], float] = {}


def timeout_for(tests: tuple[str, ...]) -> float:
    if tests not in BASELINE_S:
        return NO_BASELINE_TIMEOUT_S
    return max(TIMEOUT_S, TIMEOUT_FACTOR * BASELINE_S[tests])


def _run(cmd: list[str], cwd: Path, timeout: float = TIMEOUT_S) -> tuple[int, str]:
    return run_in(cmd, cwd, timeout)


def _pytest(tests: tuple[str, ...], cwd: Path, timeout: float) -> tuple[int, str]:
    return _run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0", *tests],
        cwd,
        timeout,
    )


def _last(out: str) -> str:
    lines = out.strip().splitlines()
    return lines[-1] if lines else ""


def judge(m: Mutant) -> dict[str, object]:
    try:
        return _judge(m)
    except Exception as err:  # a broken copy is reported, not counted
        return {
            "id": m.id,
            "file": m.file,
            "line": m.line,
            "operator": m.operator,
            "status": "ERROR",
            "detail": repr(err)[:160],
            "seconds": 0.0,
        }


def _judge(m: Mutant) -> dict[str, object]:
    t0 = time.monotonic()
    res: dict[str, object] = {"id": m.id, "file": m.file, "line": m.line, "operator": m.operator}
    source = (ROOT / m.file).read_text(encoding="utf-8")
    mutated = mutate(m, source)
    if mutated is not None and annotation_only(source, mutated):
        diff = diff_lines(source, mutated)
        return {
            **res,
            "diff": diff,
            "status": "EQUIVALENT",
            "detail": ANNOTATION_ONLY,
            "seconds": 0.0,
        }
    repo = _copy()
    try:
        path = repo / m.file
        source = path.read_text(encoding="utf-8")
        mutated = mutate(m, source)
        if mutated is None:
            return {**res, "status": "INVALID", "detail": "no such occurrence", "seconds": 0.0}
        res["diff"] = diff_lines(source, mutated)
        path.write_text(mutated, encoding="utf-8")
        rc, out = _run([sys.executable, "-m", "observability.cli", "render", "--check"], repo)
        if rc != 0:
            status, detail = "KILLED", "render --check: " + _last(out)[:160]
        else:
            tests = tests_for(m.file)
            rc, out = _pytest(tests, repo, timeout_for(tests))
            failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR"))]
            if rc == 0:
                status, detail = "SURVIVED", ""
            elif rc == 124:
                status, detail = "KILLED", f"tests timed out ({timeout_for(tests):.0f}s)"
            else:
                status, detail = "KILLED", (failed[0] if failed else _last(out))[:160]
        if status == "SURVIVED" and m.id in EQUIVALENT:
            status, detail = "EQUIVALENT", EQUIVALENT[m.id]
        return {
            **res,
            "status": status,
            "detail": detail,
            "seconds": round(time.monotonic() - t0, 1),
        }
    finally:
        shutil.rmtree(repo.parent, ignore_errors=True)


def baseline(
    subsets: set[tuple[str, ...]], jobs: int
) -> dict[tuple[str, ...], tuple[int, str, float]]:
    """Each subset once on its own clean copy (as each mutant gets its own: two subsets in
    one copy share its files), `jobs` at a time (the load the mutants run under)."""
    repo = _copy()

    def timed(tests: tuple[str, ...]) -> tuple[int, str, float]:
        own = _copy()
        try:
            t0 = time.monotonic()
            rc, out = _pytest(tests, own, BASELINE_TIMEOUT_S)
            return rc, out, time.monotonic() - t0
        finally:
            shutil.rmtree(own.parent, ignore_errors=True)

    try:
        rc, out = _run([sys.executable, "-m", "observability.cli", "render", "--check"], repo)
        if rc != 0:
            raise SystemExit(f"baseline: render --check fails on the clean tree: {_last(out)}")
    finally:
        shutil.rmtree(repo.parent, ignore_errors=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(timed, sorted(subsets)))
    return dict(zip(sorted(subsets), results, strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="mutants drawn")
    ap.add_argument("--only", default="", help="comma-separated mutant ids (no sampling)")
    ap.add_argument("--jobs", type=int, default=2, help="mutants judged at once")
    ap.add_argument("--count", action="store_true", help="print mutants per module and exit")
    ap.add_argument("--list", action="store_true", help="print the sample's ids and exit")
    ap.add_argument("--no-baseline", action="store_true", help="skip the clean-tree run")
    ap.add_argument("--json", default="", help="write the results to this file")
    ap.add_argument(
        "--nice",
        type=int,
        default=10,
        help="niceness of the bench and its tests (10: as every test run on a shared machine;"
        " at 19 under load the runner's timed bounds fail on the clean tree)",
    )
    args = ap.parse_args()
    os.nice(max(0, args.nice - os.nice(0)))
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    files = module_files()
    if args.only:  # occurrences are per file: enumerating the named files gives the same ids
        files = sorted({i.split(":")[0] for i in args.only.split(",")} & set(files))
    t_enum = time.monotonic()
    everything = enumerate_mutants(files)
    print(
        f"cosmic-ray operators: {len(everything)} mutants over {len(files)} files"
        f" ({time.monotonic() - t_enum:.0f}s to enumerate)"
    )
    if args.count:
        per: dict[str, int] = {}
        for m in everything:
            per[m.file] = per.get(m.file, 0) + 1
        for f, n in sorted(per.items()):
            print(f"{n:>6}  {f}")
        return 0
    if args.only:
        wanted = args.only.split(",")
        by_id = {m.id: m for m in everything}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            print(f"error: unknown mutant ids: {', '.join(missing)}", file=sys.stderr)
            return 2
        chosen = [by_id[i] for i in wanted]
    else:
        chosen = sorted(
            random.Random(args.seed).sample(everything, min(args.sample, len(everything))),
            key=lambda m: (m.file, m.operator, m.occurrence),
        )
        print(f"seed {args.seed}, sample {len(chosen)} of {len(everything)}")
    if args.list:
        for m in chosen:
            print(f"{m.id}  (line {m.line})")
        return 0
    bad: set[tuple[str, ...]] = set()
    if not args.no_baseline:
        subsets = {tests_for(m.file) for m in chosen}
        print(f"baseline: render --check and {len(subsets)} test subsets on the clean tree ...")
        for subset, (rc, out, secs) in baseline(subsets, args.jobs).items():
            if rc != 0:
                bad.add(subset)
                failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR"))]
                print(f"  BASELINE FAILS {' '.join(subset)}: {_last(out)}")
                for ln in failed:
                    print(f"      {ln[:200]}")
            else:
                BASELINE_S[subset] = secs
                print(f"  {secs:5.0f}s (timeout {timeout_for(subset):.0f}s)  {' '.join(subset)}")
    counted = [m for m in chosen if tests_for(m.file) not in bad]
    results: list[dict[str, object]] = []
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for i, res in enumerate(pool.map(judge, counted), 1):
                results.append(res)
                print(
                    f"[{i}/{len(counted)}] {res['status']:<10} {res['id']:<70}"
                    f" {res['seconds']:>5}s  {res['detail']}",
                    flush=True,
                )
                if args.json:  # written as it goes: an interrupted run keeps what ran
                    Path(args.json).write_text(json.dumps({"seed": args.seed, "results": results}))
    except KeyboardInterrupt:
        print(f"interrupted after {len(results)} mutants", file=sys.stderr)
    elapsed = time.monotonic() - t0
    valid = [r for r in results if r["status"] in ("KILLED", "SURVIVED")]
    killed = sum(r["status"] == "KILLED" for r in valid)
    survivors = [r for r in valid if r["status"] == "SURVIVED"]
    equivalent = [r for r in results if r["status"] == "EQUIVALENT"]
    by_rule = sum(r["detail"] == ANNOTATION_ONLY for r in equivalent)
    pct = 100.0 * killed / len(valid) if valid else 0.0
    print(
        f"killed {killed}/{len(valid)} ({pct:.1f}%) in {elapsed:.0f}s"
        f"; {len(equivalent)} equivalent left out ({by_rule} annotation-only, not run;"
        f" {len(equivalent) - by_rule} listed in EQUIVALENT); {len(survivors)} survivors"
    )
    for r in survivors:
        print(f"  SURVIVED {r['file']}:{r['line']} {r['operator']}  [{r['id']}]")
        for ln in r.get("diff", []):
            print(f"      {ln.strip()}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "sample": len(chosen),
                    "killed": killed,
                    "total": len(valid),
                    "equivalent": len(equivalent),
                    "annotation_only": by_rule,
                    "seconds": round(elapsed),
                    "results": results,
                },
                indent=1,
            )
        )
    return 0 if pct >= 85 else 1


if __name__ == "__main__":
    sys.exit(main())
