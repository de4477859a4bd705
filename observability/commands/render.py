"""`obsctl render`: write every artifact from bundle.yaml (or check for drift)."""

from __future__ import annotations

from pathlib import Path

import typer

from observability.commands._common import EXIT_FAILED, ConfigOption, die, load_bundle, print_json
from observability.render import apply, check, render_all


def render(
    config: Path = ConfigOption,
    check_only: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 listing files that differ from bundle.yaml."
    ),
    prune: bool = typer.Option(
        False, "--prune", help="Delete generated-dir files no builder produces."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Render manifests, rules and dashboards from bundle.yaml (deterministic)."""
    cfg = load_bundle(config)
    root = config.resolve().parent
    try:
        rendered = render_all(cfg)
    except (ValueError, LookupError) as err:
        die(f"render failed before writing anything: {err}")
    result = check(rendered, root) if check_only else apply(rendered, root, prune=prune)
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
