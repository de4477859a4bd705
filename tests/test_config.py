"""bundle.yaml loading: every class of error is one line naming the key, exit 2."""

from __future__ import annotations

import copy
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
        (lambda d: d["vllm"].update(deploy=["nope"]), "vllm.deploy names ['nope']"),
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


def test_cli_exit_2_and_writes_nothing(tmp_path):
    (tmp_path / "bundle.yaml").write_text("git: {repo_url: 'https://x/y.git'}\nbogus: 1\n")
    result = CliRunner().invoke(app, ["render", "--config", str(tmp_path / "bundle.yaml")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.yaml"]
