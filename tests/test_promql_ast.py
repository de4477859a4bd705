"""The PromQL reader (metrics/promql_ast.py) against hand-written expressions, literal
expectations only, and its users: scenario timing follows recordings by parsed names."""

from __future__ import annotations

import pytest

from observability.metrics import promql_ast as pq
from observability.scenarios import max_range_s

EXPR = (
    'histogram_quantile(0.99, sum by (le, namespace) (rate(vllm:x_bucket{namespace=~"$namespace",'
    ' pod!="a"}[$__rate_interval]))) / (sum without (pod) (up) > 0)'
    ' or label_replace(up, "a", "b", "", "") / on (pod) group_left (model_name)'
    " DCGM_FI_DEV_GPU_TEMP offset 10m"
)


def test_selectors_carry_name_matchers_and_range():
    sels = pq.selectors(EXPR)
    assert sels[0] == pq.Selector(
        "vllm:x_bucket",
        (pq.Matcher("namespace", "=~", "$namespace"), pq.Matcher("pod", "!=", "a")),
        300.0,  # $__rate_interval parses as 5m
    )
    assert sels[0].matcher("namespace").variables == ("namespace",)  # type: ignore[union-attr]
    assert sels[0].matcher("model_name") is None
    assert [s.name for s in sels] == ["vllm:x_bucket", "up", "up", "DCGM_FI_DEV_GPU_TEMP"]


def test_metric_names_ignore_functions_labels_strings_and_keywords():
    expr = (
        'sum by (namespace, le) (rate(vllm:x_bucket{le="1.0"}[5m])) or '
        'label_replace(up, "a", "b", "", "") / on (pod) group_left (model_name) '
        "DCGM_FI_DEV_GPU_TEMP offset 10m > 1e3"
    )
    assert pq.metric_names(expr) == ["vllm:x_bucket", "up", "DCGM_FI_DEV_GPU_TEMP"]
    assert pq.metric_names('count({__name__="ALERTS", alertstate="firing"})') == ["ALERTS"]
    # spacing and parentheses do not matter to a parser
    assert pq.metric_names("sum(rate( vllm:a_total [1m] ))/((sum(b))>0)") == ["vllm:a_total", "b"]


def test_groupings_quantiles_divisions_ranges_variables():
    assert pq.groupings(EXPR) == [
        pq.Grouping("sum", "by", ("le", "namespace")),
        pq.Grouping("sum", "without", ("pod",)),
    ]
    assert pq.groupings("max(x)") == [pq.Grouping("max", "", ())]
    (q,) = pq.quantiles(EXPR)
    assert q.phi == 0.99
    assert q.grouping == pq.Grouping("sum", "by", ("le", "namespace"))
    assert [s.name for s in q.reads] == ["vllm:x_bucket"]
    guards = [pq.is_positive_guard(den) for _num, den in pq.divisions(EXPR)]
    assert guards == [True, False]
    assert pq.is_positive_guard(pq.parse("((x > bool 0))")) is False
    assert pq.ranges_s("max_over_time(x[1h:1m]) + rate(y[90s])") == [3600.0, 90.0]
    assert pq.variables('x{a=~"${a:regex}", b="[[b]]", c="$c"}[$__range]') == [
        "a",
        "b",
        "c",
        "__range",
    ]


def test_unparsable_expression_is_one_error():
    with pytest.raises(
        pq.PromQLError, match=r"unclosed left parenthesis in 'sum\(rate\(x\[5m\]\)'"
    ):
        pq.parse("sum(rate(x[5m])")


def test_scenario_window_follows_recordings_by_parsed_name():
    recording = {
        "ns:req:rate5m": ["sum by (ns) (rate(vllm:req_total[5m]))"],
        "ns:slow:rate1h": ["sum(rate(vllm:x[1h]))", "sum(rate(vllm:y[2h]))"],
        # a name that merely contains a recorded name is another series
        "ns:req:rate5m_extra": ["sum(rate(z[6h]))"],
    }
    assert max_range_s("ns:req:rate5m > 1", recording) == 300.0
    assert max_range_s("ns:slow:rate1h / (ns:req:rate5m > 0)", recording) == 7200.0
    assert max_range_s("rate(a[30s]) > 0", recording) == 30.0
