"""The CLI contract, fuzzed: malformed kubeconfigs, bundle files, URLs and option values
thrown at every command (typer's CliRunner in-process, plus real subprocesses for the
messages a user sees). Every outcome must be: exit 0/1/2; with --json exactly one JSON
document on stdout (`{"error", "exit_code"}` on errors); one `error:` line on stderr for an
exit 2; never a traceback, a library log record, an object repr or an "internal error".

Examples per property: the `ci` hypothesis profile (derandomized, OBSCTL_FUZZ_EXAMPLES,
default 25); `python bench/cli_fuzz.py` runs the same properties longer and prints counts.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from observability.cli import app
from observability.local.ports import PortAllocator
from observability.scenarios.catalog import SCENARIOS

REPO = Path(__file__).resolve().parent.parent
BUNDLE = yaml.safe_load((REPO / "bundle.yaml").read_text(encoding="utf-8"))

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("OBSCTL_FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize=not os.environ.get("OBSCTL_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("ci")

COUNTS: collections.Counter[str] = collections.Counter()
NOISE = ("Traceback", "ERROR:", "WARNING:", " object at 0x", "internal error")


# -- endpoints that never answer properly ----------------------------------------------
@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    """`closed`: nothing listens (refused); `hung`: accepts, never answers."""
    with PortAllocator() as alloc:
        closed, hung = alloc.one(), alloc.one()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", hung))
        sock.listen(512)  # the kernel completes handshakes; nobody ever reads
        try:
            yield {"closed": closed, "hung": hung}
        finally:
            sock.close()


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    out = os.environ.get("OBSCTL_FUZZ_REPORT")
    if out:
        Path(out).write_text(json.dumps(dict(COUNTS), indent=2, sort_keys=True) + "\n")


runner = CliRunner()


def invoke(args: list[str], allowed: set[int], tag: str) -> Any:
    """Run obsctl in-process and assert the contract; return the JSON document if any."""
    COUNTS[tag] += 1
    result = runner.invoke(app, args)
    err, out = result.stderr, result.stdout
    detail = f"args={args!r}\nexit={result.exit_code}\nstdout={out[:800]!r}\nstderr={err!r}"
    assert result.exit_code in allowed, detail
    assert result.exception is None or isinstance(result.exception, SystemExit), detail
    for bad in NOISE:
        assert bad not in err, detail
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    if result.exit_code == 2:  # one line per problem (a bundle.yaml may have several)
        assert errors and (len(errors) == 1 or tag == "bundle"), detail
    else:
        assert len(errors) <= 1, detail
    if "--json" not in args:
        return None
    try:
        doc = json.loads(out)  # exactly one document: trailing text raises
    except ValueError:
        pytest.fail(f"stdout is not one JSON document\n{detail}")
    if result.exit_code == 2:
        lines = [e.removeprefix("error: ") for e in errors]
        expected = {"error": lines[0], "exit_code": 2}
        if len(lines) > 1:
            expected = {
                "error": f"{len(lines)} problems: " + "; ".join(lines),
                "errors": lines,
                "exit_code": 2,
            }
        assert doc == expected, detail
    return doc


# -- strategies ----------------------------------------------------------------------
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)
text_values = st.one_of(
    st.text(max_size=16).filter(lambda s: "\x00" not in s),
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["", "-1", "0", "nan", "inf", "1e309", "--json", "-", "1.5s", "0x10"]),
)


def url_strategy(ports: dict[str, int]) -> st.SearchStrategy[str]:
    port = st.sampled_from(
        [f":{ports['closed']}", f":{ports['hung']}", ":0", ":99999", ":abc", ":", ""]
    )
    host = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "", "256.0.0.1", "a b", "%zz"])
    scheme = st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "", "http:/"])
    path = st.text(alphabet="/?#&=%ab ", max_size=8)
    built = st.builds(lambda s, h, p, x: f"{s}{h}{p}{x}", scheme, host, port, path)
    # Free text must not name a real host (no DNS from tests).
    free = st.text(max_size=30).filter(
        lambda s: "\x00" not in s and not re.match(r"(?i)\s*https?://[^/]*[a-z]", s)
    )
    return st.one_of(built, free)


def kubeconfig_strategy(ports: dict[str, int]) -> st.SearchStrategy[str]:
    server = st.sampled_from(
        [
            f"https://127.0.0.1:{ports['closed']}",
            f"http://127.0.0.1:{ports['hung']}",
            f"https://127.0.0.1:{ports['hung']}",
            "",
            "not a url",
            "https://[::1",
            "ftp://127.0.0.1",
            "https://127.0.0.1:99999",
            None,
            42,
        ]
    )
    user = st.one_of(
        st.fixed_dictionaries({"token": st.text(max_size=10)}),
        st.fixed_dictionaries(
            {
                "exec": st.fixed_dictionaries(
                    {
                        "apiVersion": st.just("client.authentication.k8s.io/v1beta1"),
                        "command": st.sampled_from(
                            ["no-such-plugin-xyz", "", None, 5, "false", "true"]
                        ),
                    }
                )
            }
        ),
        st.fixed_dictionaries({"client-certificate-data": st.text(max_size=20)}),
        st.just({}),
        junk,
    )
    context_name = st.sampled_from(["ctx", "other", "", None])

    @st.composite
    def structured(draw: Any) -> str:
        doc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": draw(server)}}],
            "users": [{"name": "u", "user": draw(user)}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": draw(context_name),
        }
        for key in draw(st.lists(st.sampled_from(sorted(doc)), max_size=2)):
            if draw(st.booleans()):
                doc.pop(key, None)
            else:
                doc[key] = draw(junk)
        return yaml.safe_dump(doc)

    raw = st.text(max_size=120).filter(lambda s: "\x00" not in s)
    return st.one_of(structured(), raw, junk.map(yaml.safe_dump))


def _paths(doc: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


BUNDLE_PATHS = sorted(_paths(BUNDLE), key=repr)


@st.composite
def bundle_text(draw: Any) -> str:
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "raw", "junk"]))
    if kind == "raw":
        return draw(st.text(max_size=200).filter(lambda s: "\x00" not in s))
    if kind == "junk":
        return yaml.safe_dump(draw(junk))
    doc = copy.deepcopy(BUNDLE)
    for path in draw(st.lists(st.sampled_from(BUNDLE_PATHS), min_size=1, max_size=3)):
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "delete":
                del parent[path[-1]]
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(junk)
            else:
                parent[path[-1]] = draw(junk)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the path
    return yaml.safe_dump(doc, sort_keys=False)


# -- properties ----------------------------------------------------------------------
def test_fuzz_kubeconfigs(ports: dict[str, int], tmp_path: Path) -> None:
    @given(kubeconfig_strategy(ports))
    @example("current-context: [a]\ncontexts: [{name: a}]\n")  # found by bench/cli_fuzz.py
    @example("current-context: a\ncontexts: [{name: a, context: {user: [x]}}]\n")
    def prop(text: str) -> None:
        kc = tmp_path / "kubeconfig"
        kc.write_text(text, encoding="utf-8")
        args = ["verify", "--kubeconfig", str(kc), "--timeout", "1", "--json"]
        started = time.monotonic()
        invoke(args, {2}, "kubeconfig")
        assert time.monotonic() - started < 8, args

    prop()


def test_fuzz_bundle_files(tmp_path: Path) -> None:
    @given(bundle_text())
    def prop(text: str) -> None:
        cfg = tmp_path / "bundle.yaml"
        cfg.write_text(text, encoding="utf-8")
        doc = invoke(["render", "--check", "--json", "-c", str(cfg)], {1, 2}, "bundle")
        if "error" not in doc:  # valid: nothing is rendered in tmp_path, so all drifts
            assert doc["drifted"] and doc["unchanged"] == [], doc
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.yaml"]  # no writes

    prop()


def test_fuzz_urls(ports: dict[str, int], tmp_path: Path) -> None:
    # A checkout of its own: `verify --local` with an empty URL reads the demo state of the
    # bundle's directory, where a stack of another test (another xdist worker) may run.
    fork = tmp_path / "fork"
    fork.mkdir()
    cfg = str(shutil.copy(REPO / "bundle.yaml", fork))

    @given(url_strategy(ports), st.integers(0, 4))
    def prop(url: str, which: int) -> None:
        args = [
            ["snapshot", "-p", url, "--timeout", "0.5", "--out", str(tmp_path / "s"), "-c", cfg],
            ["verify", "--local", "--prometheus-url", url, "--timeout", "1", "-c", cfg],
            ["sim", "fault", "slow-gpu", "--admin", url, "--timeout", "0.5"],
            ["load", "--url", url, "--timeout", "0.5", "--duration", "1"],
            ["dashboards", "push", "--url", url, "--token", "t", "--timeout", "0.5", "-c", cfg],
        ][which]
        started = time.monotonic()
        invoke([*args, "--json"], {2}, f"url:{args[0]}")
        assert time.monotonic() - started < 12, args  # --timeout 0.5 on a busy machine
        assert not (tmp_path / "s").exists()

    prop()


def test_fuzz_option_values(ports: dict[str, int]) -> None:
    closed = f"http://127.0.0.1:{ports['closed']}"
    nowhere = "/nonexistent/bundle.yaml"
    scenario_name = st.text(max_size=12).filter(lambda s: s not in SCENARIOS and s != "all")

    # command -> (fixed prefix, options that get a random value)
    table: dict[str, tuple[list[str], list[str]]] = {
        "verify": (
            ["verify", "--local", "--prometheus-url", closed],
            ["--timeout", "--total-timeout", "--only", "--skip"],
        ),
        "snapshot": (
            ["snapshot", "-p", closed, "--timeout", "0.5"],
            ["--range", "--start", "--end", "--var", "--scrape-interval", "--timeout"],
        ),
        # demo, sim and scenario never start anything: the config path does not exist.
        "demo": (["demo", "-c", nowhere], ["--profile", "--replicas", "--duration", "--rate"]),
        "sim": (["sim", "-c", nowhere], ["--vllm-version", "--profile", "--replicas", "--fault"]),
        "load": (
            ["load", "--url", closed, "--timeout", "0.5"],
            ["--users", "--rate", "--duration", "--api", "--timeout"],
        ),
        "scenario": (
            ["scenario", "run", "NAME", "-c", nowhere],
            ["--profile", "--replicas", "--engine"],
        ),
        "lint": (["lint"], ["--kubernetes-version"]),
        "push": (
            ["dashboards", "push", "--url", closed, "--token", "t"],
            ["--timeout", "--folder"],
        ),
    }

    @st.composite
    def command(draw: Any) -> list[str]:
        name = draw(st.sampled_from(sorted(table)))
        prefix, flags = table[name]
        args = [draw(scenario_name) if a == "NAME" else a for a in prefix]
        for flag in draw(st.lists(st.sampled_from(flags), min_size=1, max_size=3)):
            value = draw(text_values)
            if flag == "--kubernetes-version":  # a supported one would run the whole lint
                assume(not re.match(r"\s*v?1\.\d+", value))
            args += [flag, value]
        return args

    @given(command(), st.booleans())
    # found by bench/cli_fuzz.py: die() inside `except RuntimeError`; httpx's own range check
    @example(["snapshot", "-p", closed, "--timeout", "0.5", "--var", ""], True)
    @example(["dashboards", "push", "--url", closed, "--token", "t", "--timeout", "-1"], False)
    def prop(args: list[str], as_json: bool) -> None:
        if as_json and "--json" not in args:
            args = [*args, "--json"]
        started = time.monotonic()
        invoke(args, {2}, f"options:{args[0]}")
        assert time.monotonic() - started < 8, args

    prop()


# -- what a user sees: real processes, exact lines ------------------------------------
def _obsctl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "observability.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _kubeconfig(server: str, user: dict, current: str = "ctx") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": current,
        }
    )


def test_broken_kubeconfigs_one_line_with_fix(ports: dict[str, int], tmp_path: Path) -> None:
    closed = f"https://127.0.0.1:{ports['closed']}"
    hung = f"https://127.0.0.1:{ports['hung']}"
    cases = {
        "yaml": ("this: is: not: [valid\n", "is not valid YAML at line 1, column 9"),
        "exec": (
            _kubeconfig(closed, {"exec": {"command": "no-such-plugin-xyz"}}),
            "user 'u' gets credentials from `no-such-plugin-xyz`, which is not installed",
        ),
        "context": (_kubeconfig(closed, {"token": "t"}, "gone"), "has no context 'gone'"),
        "refused": (_kubeconfig(closed, {"token": "t"}), "Connection refused"),
        "hung": (_kubeconfig(hung, {"token": "t"}), "unreachable: timed out"),
    }
    for name, (text, expected) in cases.items():
        kc = tmp_path / f"{name}.yaml"
        kc.write_text(text, encoding="utf-8")
        for as_json in (True,) if name != "yaml" else (False, True):
            started = time.monotonic()
            proc = _obsctl(
                "verify", "--kubeconfig", str(kc), "--timeout", "2", *(["--json"] * as_json)
            )
            took = time.monotonic() - started
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode == 2, (name, proc.stderr)
            assert len(lines) == 1 and lines[0].startswith("error: "), (name, proc.stderr)
            assert expected in lines[0], (name, lines[0])
            assert (
                lines[0]
                .rstrip()
                .endswith(
                    ("--prometheus-url", "exec.command", "use-context NAME`", "cluster-info`")
                )
            ), lines[0]
            assert took < 10, (name, took)  # --timeout 2: one second per API request
            if as_json:
                assert json.loads(proc.stdout) == {
                    "error": lines[0].removeprefix("error: "),
                    "exit_code": 2,
                }
            else:
                assert proc.stdout == ""


def test_hung_and_refused_agree(ports: dict[str, int], tmp_path: Path) -> None:
    """Same exit code for a port that refuses and one that accepts and never answers, each
    within its --timeout."""
    for cmd in (
        ["verify", "--local", "--prometheus-url", "{url}", "--timeout", "2"],
        ["snapshot", "-p", "{url}", "--timeout", "1", "--out", str(tmp_path / "snap")],
    ):
        for kind in ("closed", "hung"):
            url = f"http://127.0.0.1:{ports[kind]}"
            started = time.monotonic()
            doc = invoke([*[a.replace("{url}", url) for a in cmd], "--json"], {2}, "hung/refused")
            took = time.monotonic() - started
            assert url in doc["error"], doc
            # the --timeout plus obsctl's own start (imports: 1-4 s on a busy 2-core machine);
            # a timeout not honoured hangs until pytest's own timeout
            assert took < 2 + 6, (cmd, kind, took)


def test_usage_error_json_and_exit_code() -> None:
    proc = _obsctl("render", "--no-such-flag", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {
        "error": "No such option: --no-such-flag (see `obsctl render --help`)",
        "exit_code": 2,
    }
    assert proc.stderr == "error: No such option: --no-such-flag (see `obsctl render --help`)\n"
