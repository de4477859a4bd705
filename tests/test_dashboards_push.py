"""`obsctl dashboards push` against a real local HTTP server speaking Grafana's API."""

from __future__ import annotations

import socket

import pytest
from dashboards_helpers import FakeGrafana
from typer.testing import CliRunner

from observability.cli import app
from observability.dashboards import build_all
from observability.dashboards.push import GrafanaAuth, PushError, push_dashboards

runner = CliRunner()
TOKEN = GrafanaAuth(token="editor-token")


@pytest.fixture
def grafana():
    with FakeGrafana() as g:
        yield g


def test_first_push_creates_folder_and_dashboard_then_unchanged_then_updated(grafana, bundle):
    dashes = build_all(bundle)
    first = push_dashboards(grafana.url, TOKEN, dashes, "vLLM")
    assert [r.status for r in first] == ["created"] * 3  # the pane and its two companions
    assert [f["title"] for f in grafana.folders.values()] == ["vLLM"]
    stored = grafana.dashboards[bundle.dashboards.uid]
    assert stored["meta"]["folderTitle"] == "vLLM"
    ds_var = stored["dashboard"]["templating"]["list"][0]
    assert ds_var["current"]["value"] == "prometheus"
    # Datasource is checked before anything is written.
    assert grafana.requests.index(("GET", "/api/datasources/uid/prometheus")) < (
        grafana.requests.index(("POST", "/api/folders"))
    )

    again = push_dashboards(grafana.url, TOKEN, dashes, "vLLM")
    assert [r.status for r in again] == ["unchanged"] * 3
    assert len(grafana.folders) == 1

    changed = {k: {**d, "title": d["title"] + " (edited)"} for k, d in dashes.items()}
    third = push_dashboards(grafana.url, TOKEN, changed, "vLLM")
    assert [r.status for r in third] == ["updated"] * 3
    assert grafana.dashboards[bundle.dashboards.uid]["dashboard"]["version"] == 2


def test_push_goes_to_the_folder_of_that_title_beside_others(grafana, bundle):
    """A Grafana with other folders already (titles sorting after and before the bundle's):
    the dashboards land in the folder titled as asked, which is created once."""
    grafana.folders["zz"] = {"id": 1, "uid": "zz", "title": "zeta team", "version": 1}
    grafana.folders["aa"] = {"id": 2, "uid": "aa", "title": "alpha team", "version": 1}
    push_dashboards(grafana.url, TOKEN, build_all(bundle), "vLLM")
    assert sorted(f["title"] for f in grafana.folders.values()) == [
        "alpha team",
        "vLLM",
        "zeta team",
    ]
    assert grafana.dashboards[bundle.dashboards.uid]["meta"]["folderTitle"] == "vLLM"


def test_bad_token_is_one_line_401(grafana, bundle):
    with pytest.raises(PushError, match=r"rejected the credentials \(401\)"):
        push_dashboards(grafana.url, GrafanaAuth(token="nope"), build_all(bundle), "vLLM")
    assert not grafana.dashboards


def test_viewer_gets_403_explaining_editor_role(grafana, bundle):
    grafana.users["viewer"] = ("pw", "Viewer")
    with pytest.raises(PushError, match=r"\(403\).*Editor"):
        push_dashboards(
            grafana.url, GrafanaAuth(user="viewer", password="pw"), build_all(bundle), "vLLM"
        )


def test_missing_datasource_stops_before_writing(grafana, bundle):
    grafana.datasources.clear()
    with pytest.raises(PushError, match=r"no datasource with uid 'prometheus'"):
        push_dashboards(grafana.url, TOKEN, build_all(bundle), "vLLM")
    assert not grafana.folders and not grafana.dashboards


def test_unreachable_grafana(bundle):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PushError, match="cannot reach Grafana"):
        push_dashboards(f"http://127.0.0.1:{port}", TOKEN, build_all(bundle), "vLLM", timeout=2)


def test_cli_basic_auth_from_env_and_errors(grafana, repo_root):
    grafana.users["admin"] = ("secret", "Admin")
    env = {"GRAFANA_URL": grafana.url, "GRAFANA_USER": "admin", "GRAFANA_PASSWORD": "secret"}
    cfg = str(repo_root / "bundle.yaml")
    res = runner.invoke(app, ["dashboards", "push", "-c", cfg], env=env)
    assert res.exit_code == 0, res.output
    assert res.output.startswith("created")
    res = runner.invoke(app, ["dashboards", "push", "-c", cfg, "--json"], env=env)
    assert '"status": "unchanged"' in res.output

    bad = {**env, "GRAFANA_PASSWORD": "wrong"}
    res = runner.invoke(app, ["dashboards", "push", "-c", cfg], env=bad)
    assert res.exit_code == 2
    assert "401" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1

    res = runner.invoke(app, ["dashboards", "push", "-c", cfg, "--datasource-uid", "nope"], env=env)
    assert res.exit_code == 2 and "no datasource with uid 'nope'" in res.output

    res = runner.invoke(app, ["dashboards", "push", "-c", cfg], env={"GRAFANA_URL": ""})
    assert res.exit_code == 2 and "GRAFANA_URL" in res.output
