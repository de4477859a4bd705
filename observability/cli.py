"""obsctl: thin typer app; each command lives in observability/commands/."""

from __future__ import annotations

import typer

from observability.commands import (
    dashboards,
    demo,
    lint,
    load,
    render,
    scenario,
    sim,
    snapshot,
    verify,
)
from observability.commands._common import ContractGroup

app = typer.Typer(
    name="obsctl",
    help="Render, lint, demo and verify the vLLM observability bundle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=ContractGroup,
)

app.command("render", help="Render manifests, rules and dashboards from bundle.yaml.")(
    render.render
)
app.command("lint", help="Validate everything rendered, offline (schemas, promtool, invariants).")(
    lint.lint
)
app.command("demo", help="Run the whole monitoring path locally against simulated vLLM and GPUs.")(
    demo.demo
)
app.add_typer(
    sim.app,
    name="sim",
    help="Run simulated vLLM replicas and DCGM exporters (sim fault: switch faults).",
)
app.command("load", help="Drive an OpenAI-compatible endpoint with the seed benchmark mix.")(
    load.load
)
app.add_typer(scenario.app, name="scenario", help="List or run fault scenarios with alert timing.")
app.command("verify", help="Check a live installation (or the local stack) end to end.")(
    verify.verify
)
app.command("snapshot", help="Render the single-pane dashboard to HTML/PNG without Grafana.")(
    snapshot.snapshot
)
app.add_typer(dashboards.app, name="dashboards", help="Push dashboards to a running Grafana.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
