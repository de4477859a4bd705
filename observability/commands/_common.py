"""Shared CLI plumbing: the exit-code and output contract, one-line errors, the bundle.

The contract every obsctl command keeps, enforced here once (ContractGroup) rather than per
command:

- exit 0 ok, 1 a check failed, 2 bad usage, bad config or something unreachable (130 on
  Ctrl-C);
- with ``--json`` stdout carries exactly one JSON document on every outcome; errors are
  ``{"error": "...", "exit_code": N}``;
- stderr gets one line per error: no traceback, no library log records or warnings
  (``OBSCTL_DEBUG=1`` shows the traceback of an unexpected error).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from observability import tmpdirs
from observability.config import BundleConfig, ConfigError, load_config

__all__ = [
    "DEMO_PACKAGES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigOption",
    "ContractGroup",
    "die",
    "json_mode",
    "load_bundle",
    "one_line",
    "print_json",
]

# Imported only by the demo stack (sim, load, snapshot, scenarios): the [demo] extra.
DEMO_PACKAGES = frozenset({"aiohttp", "psutil", "locust", "matplotlib", "numpy"})

EXIT_OK = 0
EXIT_FAILED = 1  # a check failed
EXIT_USAGE = 2  # bad usage, bad config, or something unreachable (hung or refused)
EXIT_INTERRUPTED = 130  # Ctrl-C

ConfigOption = typer.Option(
    Path("bundle.yaml"), "--config", "-c", help="Path to bundle.yaml.", envvar="OBSCTL_CONFIG"
)


class _Output:
    """Per-invocation output state (one CLI run per process; reset by ContractGroup)."""

    json = False
    json_written = False


def json_mode() -> bool:
    return _Output.json


# typer vendors click from 0.24 on; take the exception classes from whichever it uses.
_click_exc = sys.modules[typer.BadParameter.__module__]
_UsageError: type[Exception] = _click_exc.UsageError
_ClickException: type[Exception] = _click_exc.ClickException
_NoArgsIsHelp: type[Exception] = getattr(_click_exc, "NoArgsIsHelpError", _UsageError)
_ClickAbort: type[BaseException] = getattr(_click_exc, "Abort", typer.Abort)
_ClickExit: type[BaseException] = getattr(_click_exc, "Exit", typer.Exit)

_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")


def one_line(message: object) -> str:
    """A message fit for one stderr line: library object reprs dropped, whitespace folded."""
    text = _OBJECT_REPR.sub("", str(message))
    return " ".join(text.split()) or "unknown error"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
    _Output.json_written = True


def _emit_error(message: str | Sequence[str], code: int) -> None:
    """One `error:` line per problem on stderr; with --json also the error document on
    stdout (unless the command already wrote its one document): `error` is the one line,
    or with several problems (a bundle.yaml with many mistakes) their count and all of
    them, which `errors` lists one by one."""
    lines = [one_line(m) for m in ([message] if isinstance(message, str) else message)]
    lines = lines or ["unknown error"]
    for line in lines:
        typer.secho(f"error: {line}", err=True, fg=typer.colors.RED)
    if _Output.json and not _Output.json_written:
        doc: dict[str, Any] = {"error": lines[0], "exit_code": code}
        if len(lines) > 1:
            doc["error"] = f"{len(lines)} problems: " + "; ".join(lines)
            doc["errors"] = lines
        print_json(doc)


def die(message: str | Sequence[str], code: int = EXIT_USAGE) -> NoReturn:
    """Print one line per problem to stderr (and the JSON error document with --json)
    and exit."""
    _emit_error(message, code)
    raise typer.Exit(code)


def load_bundle(path: Path) -> BundleConfig:
    """The validated config, or every problem in it (one `error:` line each) and exit 2."""
    try:
        return load_config(path)
    except ConfigError as err:
        die(err.lines)


def _quiet_libraries() -> None:
    """Library log records and warnings are not ours to print: kubernetes' exec provider
    logs `ERROR:root:` before we report the same problem properly, urllib3 warns about
    unverified TLS on every request."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())  # replaces logging.lastResort's stderr dump
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def _usage_line(err: Any) -> str:
    ctx = getattr(err, "ctx", None)
    where = ctx.command_path if ctx is not None else "obsctl"
    return f"{err.format_message()} (see `{where} --help`)"


class ContractGroup(TyperGroup):
    """The top-level obsctl group: runs the command and turns every outcome into the
    contract's exit code and output, whatever raised it."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        _Output.json = "--json" in argv
        _Output.json_written = False
        _quiet_libraries()
        try:
            tmpdirs.sweep()  # what an obsctl killed with -9 left in $TMPDIR
            rv = super().main(
                args=argv,
                prog_name=prog_name or "obsctl",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = rv if isinstance(rv, int) else EXIT_OK
        except _NoArgsIsHelp as err:
            code = EXIT_USAGE
            ctx = getattr(err, "ctx", None)
            if _Output.json or ctx is None:
                where = ctx.command_path if ctx is not None else "obsctl"
                _emit_error(f"no command given (see `{where} --help`)", code)
            else:
                text = ctx.get_help()  # typer's rich help prints itself and returns ""
                if text:
                    typer.echo(text)
        except _UsageError as err:
            code = EXIT_USAGE
            _emit_error(_usage_line(err), code)
        except _ClickException as err:  # e.g. a FileError
            code = EXIT_USAGE
            _emit_error(err.format_message(), code)  # type: ignore[attr-defined]
        except (_ClickAbort, typer.Abort, KeyboardInterrupt):
            code = EXIT_INTERRUPTED
            _emit_error("interrupted", code)
        except tmpdirs.TempDirError as err:
            code = EXIT_USAGE
            _emit_error(str(err), code)
        except ModuleNotFoundError as err:
            code = EXIT_USAGE
            root = (err.name or "").split(".")[0]
            if root in DEMO_PACKAGES:
                _emit_error(
                    f"this command needs the demo extra (Python package {root!r} is not "
                    "installed): pip install 'vllm-observability-bundle[demo]' "
                    "(render, lint and verify need only the base install)",
                    code,
                )
            else:
                _emit_error(f"Python package {root!r} is missing: reinstall obsctl", code)
        except (_ClickExit, typer.Exit) as err:
            code = err.exit_code  # type: ignore[attr-defined]
        except Exception as err:  # a bug: still one line and exit 2, never a traceback
            code = EXIT_USAGE
            if os.environ.get("OBSCTL_DEBUG"):
                traceback.print_exc()
            _emit_error(
                f"internal error {type(err).__name__}: {err} (a bug: please report it; "
                "OBSCTL_DEBUG=1 shows the traceback)",
                code,
            )
        if _Output.json and not _Output.json_written and code != EXIT_OK:
            _emit_error(f"exited {code} without a result", code)
        if standalone_mode:
            sys.exit(code)
        return code
