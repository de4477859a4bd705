"""bundle.yaml loading: every class of error is one line naming the key, exit 2."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from observability.cli import app
from observability.config import ConfigError, load_config, parse_config

RAW = yaml.safe_load((Path(__file__).resolve().parent.parent / "bundle.yaml").read_text())


def _mutated(fn) -> dict:
    data = copy.deepcopy(RAW)
    fn(data)
    return data


def test_committed_bundle_loads(bundle):
    assert bundle.vllm.deploy == ["deepseek-r1-distill-llama-8b"]
    assert (
        bundle.models["deepseek-r1-distill-llama-8b"].hf_id
        == "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
    )
    assert "llama-3-8b-instruct" in bundle.models
    assert bundle.alerting.ttft_p99_warning_seconds == 1.0


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["prometheus"].update(scrape_interval=15), "prometheus.scrape_interval"),
        (
            lambda d: d["alerting"].update(kv_cache_warnig_ratio=0.5),
            "unknown key 'alerting.kv_cache_warnig_ratio'",
        ),
        (lambda d: d["vllm"].pop("image_tag"), "missing required key 'vllm.image_tag'"),
        (lambda d: d["models"]["llama-3-8b-instruct"].update(max_num_seqs="many"), "max_num_seqs"),
        (lambda d: d["vllm"].update(image_tag="latest"), "pin an exact image tag"),
        (
            lambda d: d["charts"]["dcgm_exporter"].update(version="^4.0"),
            "charts.dcgm_exporter.version",
        ),
        (
            lambda d: d["vllm"].update(deploy=["nope"]),
            "invalid value for 'vllm.deploy.0': 'nope' is not a key of models",
        ),
        (
            lambda d: d["alerting"].update(kv_cache_critical_ratio=0.5),
            "kv_cache_critical_ratio must be above",
        ),
    ],
)
def test_bad_values_name_the_key(mutate, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(_mutated(mutate))
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_unparsable_yaml_names_the_line(tmp_path):
    p = tmp_path / "bundle.yaml"
    p.write_text("git:\n  repo_url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_config(p)


def test_unparsable_yaml_points_at_the_offending_character(tmp_path):
    """The line and column are 1-based, as an editor shows them: they land on the character
    YAML refuses."""
    text = "git:\n  repo_url: https://x/y.git\n  ref: @main\n"
    p = tmp_path / "bundle.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    m = re.search(
        r"not valid YAML at line (\d+), column (\d+): found character '(.)'", str(err.value)
    )
    assert m, str(err.value)
    line, column, char = int(m[1]), int(m[2]), m[3]
    assert (line, column) == (3, 8)
    assert text.splitlines()[line - 1][column - 1] == char == "@"


def test_cli_exit_2_and_writes_nothing(tmp_path):
    (tmp_path / "bundle.yaml").write_text("git: {repo_url: 'https://x/y.git'}\nbogus: 1\n")
    result = CliRunner().invoke(app, ["render", "--config", str(tmp_path / "bundle.yaml")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.yaml"]


BROKEN = """\
git:
  repo_url: https://github.com/example-org/vllm-observability-bundle.git
charts:
  kube_prometheus_stack: {repo_url: x, chart: kps, version: 88.5.3}
  dcgm_exporter: {repo_url: x, chart: d, version: "^4"}
vllm:
  image_tag: v0.33.0
  deploy: [a, a]
models:
  a:
    hf_id: x
    served_name: x
    max_num_sqs: 3
    cost: {input_per_1k: 0, output_per_1k: 0}
secrets:
  hf_token: {name: hf-token, key: token}
alerting:
  ttft_p99_warning_seconds: 1.5
  kv_cache_warnig_ratio: 0.5
  itl_p99_warning_seconds: 0.2
  itl_p99_warning_seconds: 0.3
"""


def test_every_error_in_one_run_with_line_column_and_did_you_mean(tmp_path):
    (tmp_path / "bundle.yaml").write_text(BROKEN)
    result = CliRunner().invoke(app, ["render", "--config", str(tmp_path / "bundle.yaml")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    src = str(tmp_path / "bundle.yaml")
    lines = [ln.removeprefix("error: ") for ln in result.output.strip().splitlines()]
    assert len(lines) == 6, result.output
    expected_starts = [
        f"{src}:21:3: duplicate key 'alerting.itl_p99_warning_seconds' (first at line 20)",
        f"{src}:5:51: invalid value for 'charts.dcgm_exporter.version': '^4' is not an exact",
        f"{src}:8:11: invalid value for 'vllm.deploy': lists a more than once",
        f"{src}:13:5: unknown key 'models.a.max_num_sqs': did you mean 'max_num_seqs'?",
        f"{src}:18:29: invalid value for 'alerting.ttft_p99_warning_seconds': 1.5 is not a "
        "bucket edge",
        f"{src}:19:3: unknown key 'alerting.kv_cache_warnig_ratio': did you mean "
        "'kv_cache_warning_ratio'?",
    ]
    for line, start in zip(lines, expected_starts, strict=True):
        assert line.startswith(start), (line, start)
    assert "nearest valid: 1 or 2.5" in lines[4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.yaml"]


def test_off_edge_threshold_is_one_line_with_nearest_edges(tmp_path):
    text = (Path(__file__).resolve().parent.parent / "bundle.yaml").read_text()
    (tmp_path / "bundle.yaml").write_text(
        text.replace("ttft_p99_warning_seconds: 1.0", "ttft_p99_warning_seconds: 1.5")
    )
    result = CliRunner().invoke(app, ["render", "--config", str(tmp_path / "bundle.yaml")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "'alerting.ttft_p99_warning_seconds': 1.5 is not a bucket edge" in lines[0]
    assert "nearest valid: 1 or 2.5" in lines[0]


def test_model_listed_twice_in_deploy_is_rejected():
    with pytest.raises(
        ConfigError, match=r"'vllm\.deploy': lists deepseek-r1-distill-llama-8b more"
    ):
        parse_config(
            _mutated(lambda d: d["vllm"].update(deploy=["deepseek-r1-distill-llama-8b"] * 2))
        )


def test_two_deployed_models_with_one_name_in_one_namespace_are_rejected():
    def same(d):
        d["vllm"]["deploy"] = ["deepseek-r1-distill-llama-8b", "llama-3-8b-instruct"]
        d["models"]["llama-3-8b-instruct"]["namespace"] = None
        d["models"]["llama-3-8b-instruct"]["served_name"] = (
            "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
        )

    with pytest.raises(
        ConfigError, match=r"'models\.llama-3-8b-instruct\.served_name'.*also served"
    ):
        parse_config(_mutated(same))


def test_ordering_problems_are_all_reported():
    def both(d):
        d["alerting"].update(kv_cache_critical_ratio=0.5, gpu_temperature_critical_celsius=10)

    with pytest.raises(ConfigError) as err:
        parse_config(_mutated(both))
    assert sorted(ln.split("'")[1] for ln in err.value.lines) == [
        "alerting.gpu_temperature_critical_celsius",
        "alerting.kv_cache_critical_ratio",
    ]


def test_scrape_interval_too_slow_for_the_dashboard_window_is_rejected_at_load():
    with pytest.raises(ConfigError, match=r"'prometheus\.scrape_interval': 1m leaves fewer than 2"):
        parse_config(_mutated(lambda d: d["prometheus"].update(scrape_interval="1m")))


def test_a_misspelled_choice_says_did_you_mean(tmp_path):
    """A Literal value off by a letter names the nearest choice; a far one adds no hint
    (generated mutant: the hint kept only when empty)."""
    text = (Path(__file__).resolve().parent.parent / "bundle.yaml").read_text()
    assert "  dcgm_exporter: bundled\n" in text
    for value, hint in (("gpu-operatr", "; did you mean 'gpu-operator'?"), ("zzz", None)):
        (tmp_path / "bundle.yaml").write_text(
            text.replace("  dcgm_exporter: bundled\n", f"  dcgm_exporter: {value}\n")
        )
        result = CliRunner().invoke(app, ["render", "--config", str(tmp_path / "bundle.yaml")])
        assert result.exit_code == 2, result.output
        line = result.output.strip()
        assert "invalid value for 'gpu.dcgm_exporter'" in line, line
        if hint:
            assert line.endswith(hint), line
        else:
            assert "did you mean" not in line and not line.endswith(";"), line
