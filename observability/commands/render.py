"""`obsctl render`: write every artifact from bundle.yaml (or check for drift)."""

from __future__ import annotations

from pathlib import Path

import typer

from observability.commands._common import EXIT_FAILED, ConfigOption, die, load_bundle, print_json
from observability.config import ConfigError
from observability.render import apply, check, render_all, seed_hand_written


def render(
    config: Path = ConfigOption,
    check_only: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 listing files that differ from bundle.yaml."
    ),
    prune: bool = typer.Option(
        False, "--prune", help="Delete generated-dir files no builder produces."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Render into this directory instead of bundle.yaml's (hand-written alerts/tests/ "
        "are copied there when absent, so `obsctl lint --root DIR` can check the tree).",
        file_okay=False,
    ),
) -> None:
    """Render manifests, rules and dashboards from bundle.yaml (deterministic)."""
    cfg = load_bundle(config)
    root = out.resolve() if out else config.resolve().parent
    try:
        rendered = render_all(cfg)
    except (ConfigError, ValueError, LookupError) as err:
        die(f"render failed before writing anything: {err}")
    if check_only:
        result = check(rendered, root)
    else:
        if out:
            seed_hand_written(config.resolve().parent, root)
        result = apply(rendered, root, prune=prune)
    if as_json:
        print_json(result.__dict__)
    elif check_only:
        for rel in result.drifted:
            typer.echo(f"drift: {rel} differs from what bundle.yaml renders")
        for rel in result.orphans:
            typer.echo(
                f"orphan: {rel} is produced by no builder (obsctl render --prune removes it)"
            )
        if result.clean:
            typer.echo(f"ok: {len(result.unchanged)} files match bundle.yaml")
        else:
            typer.echo("run `obsctl render` and commit the result")
    else:
        typer.echo(
            f"rendered {len(rendered)} files: {len(result.written)} written, "
            f"{len(result.unchanged)} unchanged"
        )
        for rel in result.written:
            typer.echo(f"  wrote {rel}")
        for rel in result.orphans:
            typer.echo(f"  orphan: {rel} (obsctl render --prune removes it)")
    if check_only and not result.clean:
        raise typer.Exit(EXIT_FAILED)
