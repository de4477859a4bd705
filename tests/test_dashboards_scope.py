"""Dashboards are filtered by construction: every selector carries the matchers of the
dashboard variables whose labels its series have, and an unknown `$variable` is an error
in lint, in substitution (snapshot, empty-panel check, verify, bench), never `.*`."""

from __future__ import annotations

import copy
import json

import pytest

from observability.dashboards.exprs import (
    UnknownVariable,
    iter_panels,
    substitute,
    template_values,
)
from observability.lint.dashboards import check_dashboard, recordings
from observability.lint.scope import missing_matchers, series_labels

FILE = "dashboards/vllm-single-pane.json"
VARS = ["namespace", "model_name", "pod"]


@pytest.fixture(scope="module")
def dash(repo_root):
    return json.loads((repo_root / FILE).read_text())


@pytest.fixture(scope="module")
def recorded(bundle):
    return recordings(bundle)


def _panel(d, title):
    return next(p for p in iter_panels(d) if p["title"] == title)


def _lint(dash, bundle, title, expr):
    d = copy.deepcopy(dash)
    _panel(d, title)["targets"][0]["expr"] = expr
    return [f.message for f in check_dashboard(FILE, d, bundle, parse=False)]


def test_committed_dashboard_has_no_scope_findings(dash, bundle):
    msgs = [f.message for f in check_dashboard(FILE, dash, bundle, parse=False)]
    assert [m for m in msgs if "picker" in m or "not a variable" in m] == []


def test_panel_that_loses_its_namespace_matcher_is_caught(dash, bundle):
    msgs = _lint(
        dash,
        bundle,
        "Running requests",
        'sum by (pod) (vllm:num_requests_running{model_name=~"$model_name", pod=~"$pod"})',
    )
    assert (
        "`vllm:num_requests_running` carries label `namespace` but the query does not filter it "
        'with `namespace=~"$namespace"`: the panel ignores the $namespace picker'
    ) in msgs


def test_undefined_variable_is_an_error_not_a_wildcard(dash, bundle):
    msgs = _lint(
        dash,
        bundle,
        "Running requests",
        'sum by (pod) (vllm:num_requests_running{namespace=~"$namespaces", '
        'model_name=~"$model_name", pod=~"$pod"})',
    )
    assert (
        "$namespaces is not a variable of this dashboard (defined: $datasource, $namespace, "
        "$model_name, $pod): fix the query or add the variable"
    ) in msgs


def test_equality_matcher_does_not_count_as_the_variable_filter(dash, bundle):
    # `pod="$pod"` breaks the All selection (allValue `.*` is a regex).
    msgs = _lint(
        dash,
        bundle,
        "Running requests",
        'sum by (pod) (vllm:num_requests_running{namespace=~"$namespace", '
        'model_name=~"$model_name", pod="$pod"})',
    )
    assert any("`pod` but the query does not filter it" in m for m in msgs), msgs


def test_variable_query_with_unknown_variable_is_caught(dash, bundle):
    d = copy.deepcopy(dash)
    pod = next(v for v in d["templating"]["list"] if v["name"] == "pod")
    pod["query"]["query"] = 'label_values(vllm:num_requests_running{namespace=~"$ns"}, pod)'
    msgs = [f.message for f in check_dashboard(FILE, d, bundle, parse=False)]
    assert any(m.startswith("variable query: $ns is not a variable") for m in msgs), msgs


def test_dcgm_series_need_namespace_and_pod_but_not_model_name(recorded):
    q = 'avg(DCGM_FI_DEV_GPU_UTIL{namespace=~"$namespace"})'
    assert [(m.series, m.variable) for m in missing_matchers(q, VARS, recorded)] == [
        ("DCGM_FI_DEV_GPU_UTIL", "pod")
    ]


def test_per_model_recording_needs_no_pod_matcher_per_pod_recording_does(recorded):
    per_model = 'sum(namespace_model_name:vllm_prompt_tokens:rate1m{namespace=~"$namespace"})'
    assert [(m.series, m.variable) for m in missing_matchers(per_model, VARS, recorded)] == [
        ("namespace_model_name:vllm_prompt_tokens:rate1m", "model_name")
    ]
    per_pod = (
        'sum(namespace_pod_model_name:vllm_requests:rate1m{namespace=~"$namespace", '
        'model_name=~"$model_name"})'
    )
    assert [(m.series, m.variable) for m in missing_matchers(per_pod, VARS, recorded)] == [
        ("namespace_pod_model_name:vllm_requests:rate1m", "pod")
    ]


def test_label_scopes_come_from_catalogs_and_rule_syntax(recorded):
    # Literal expectations: vLLM engine gauges carry model_name (catalog) and the target
    # labels; HTTP metrics have no model_name; DCGM series have no model_name.
    assert {"namespace", "pod", "model_name"} <= series_labels(
        "vllm:num_requests_running", recorded
    )
    assert "model_name" not in series_labels("http_requests_total", recorded)
    assert "model_name" not in series_labels("DCGM_FI_DEV_GPU_TEMP", recorded)
    assert series_labels("ALERTS", recorded) is None
    assert series_labels("vllm:num_requests_running", recorded, cluster="cluster") >= {"cluster"}


def test_alerts_panel_needs_no_filters(recorded):
    assert missing_matchers('count(ALERTS{alertstate="firing"}) or vector(0)', VARS, recorded) == []


def test_substitute_rejects_unknown_variables(dash):
    values = template_values(dash)
    assert values == {
        "datasource": "prometheus",
        "namespace": ".*",
        "model_name": ".*",
        "pod": ".*",
    }
    assert (
        substitute('x{namespace=~"$namespace"}[$__rate_interval]', values, rate_interval="2m")
        == 'x{namespace=~".*"}[2m]'
    )
    # Grafana's three variable syntaxes (generated mutant: `[[name]]` read as no name)
    for form in ("$namespace", "${namespace}", "${namespace:regex}", "[[namespace]]"):
        assert substitute(f'x{{namespace=~"{form}"}}', values) == 'x{namespace=~".*"}', form
    with pytest.raises(UnknownVariable, match=r"\$namespaces is not a variable"):
        substitute('x{namespace=~"$namespaces"}', values)
    with pytest.raises(UnknownVariable, match=r"\$cluster is not a variable"):
        template_values(dash, {"cluster": "a"})
    assert template_values(dash, {"pod": "p-1"})["pod"] == "p-1"


def test_substitute_fills_grafanas_builtins_in_their_units(dash):
    """`$__interval_ms` in milliseconds, `$__range_s` in seconds, as Grafana sends them
    (generated mutant: `* 1000` -> `// 1000` made a 2m interval 0 ms)."""
    values = template_values(dash)
    expr = "$__interval $__interval_ms $__range $__range_s $__range_ms"
    got = substitute(expr, values, rate_interval="2m", range_="6h")
    assert got == "2m 120000 6h 21600 21600000"
