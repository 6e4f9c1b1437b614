"""``nbops registry ...`` and ``nbops lineage`` through typer's CliRunner."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from registry_helpers import add_dataset, add_version, start_run
from typer.testing import CliRunner

from nbops.cli.registry import lineage_command, registry_app
from nbops.data import fingerprint

runner = CliRunner()


@pytest.fixture()
def churn(client, monkeypatch):
    monkeypatch.setenv("NBOPS_USER", "ada")
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    run_id = start_run(client, "train")
    add_dataset(client, run_id, "train", fingerprint(np.arange(6.0)))
    for _ in range(2):
        add_version(client, "churn", run_id)
    return run_id


def invoke(*args: str):
    return runner.invoke(registry_app, list(args))


def test_alias_set_history_rollback(churn):
    assert invoke("alias", "set", "churn", "prod", "1").exit_code == 0
    result = invoke("alias", "set", "churn", "prod", "2", "--reason", "better")
    assert result.exit_code == 0 and "set prod: v1 → v2 (ada" in result.stdout
    result = invoke("rollback", "churn", "prod", "-r", "oops")
    assert result.exit_code == 0 and "rollback prod: v2 → v1" in result.stdout
    history = invoke("history", "churn", "--alias", "prod")
    assert history.stdout.splitlines()[0].split() == ["WHEN", "WHO", "ACTION", "ALIAS", "FROM",
                                                      "TO", "REASON"]
    assert len(history.stdout.splitlines()) == 4
    records = json.loads(invoke("history", "churn", "--json").stdout)
    assert [r["action"] for r in records] == ["set", "set", "rollback"]
    assert records[1]["reason"] == "better"
    deleted = invoke("alias", "delete", "churn", "prod")
    assert deleted.exit_code == 0 and "delete prod: v1 → v∅" in deleted.stdout


def test_list_versions_tag_describe(churn):
    invoke("alias", "set", "churn", "prod", "2")
    listing = invoke("list")
    assert listing.exit_code == 0 and "churn" in listing.stdout and "prod→2" in listing.stdout
    assert json.loads(invoke("list", "--json").stdout)["models"][0]["aliases"] == {"prod": "2"}
    versions = invoke("versions", "churn")
    assert versions.stdout.splitlines()[1].split()[:2] == ["2", "prod"]
    assert invoke("tag", "churn", "team", "vision").exit_code == 0
    assert invoke("tag", "churn", "ok", "yes", "--version", "2").exit_code == 0
    assert invoke("describe", "churn", "Churn model").exit_code == 0
    shown = invoke("describe", "churn")
    assert "churn: Churn model" in shown.stdout and "team=vision" in shown.stdout
    assert "versions: 2, 1" in shown.stdout
    assert invoke("tag", "churn", "team", "--delete").exit_code == 0
    missing = invoke("tag", "churn", "team")
    assert missing.exit_code == 2 and "Give a value" in missing.stderr


def test_errors_go_to_stderr_with_exit_2(churn):
    result = invoke("alias", "set", "chrun", "prod", "1")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: No registered model named 'chrun'")
    assert "Did you mean 'churn'" in result.stderr and result.stdout == ""
    assert invoke("rollback", "churn", "prod").exit_code == 2


@pytest.fixture()
def lineage_app():
    import typer

    app = typer.Typer()
    app.command("lineage")(lineage_command)
    app.command("noop")(lambda: None)  # keep typer in multi-command mode, like `nbops`
    return app


@pytest.mark.parametrize("fmt", ["text", "json", "mermaid", "dot", "svg"])
def test_lineage_command_formats(churn, lineage_app, fmt):
    result = runner.invoke(lineage_app, ["lineage", "churn/1", "--format", fmt])
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "json":
        data = json.loads(out)
        assert data["root"] == "model:churn/1" and len(data["nodes"]) == 3
    elif fmt == "svg":
        ET.fromstring(out)
    elif fmt == "text":
        assert out.startswith("model churn/1") and "↑ input: dataset train@" in out
    elif fmt == "mermaid":
        assert out.startswith("flowchart LR")
    else:
        assert out.startswith("digraph lineage {")


def test_lineage_command_direction_depth_and_errors(churn, lineage_app):
    result = runner.invoke(lineage_app, ["lineage", f"run:{churn}", "--direction",
                                         "downstream", "--depth", "1", "-f", "json"])
    assert {n["id"] for n in json.loads(result.stdout)["nodes"]} == {
        f"run:{churn}", "model:churn/1", "model:churn/2"}
    bad = runner.invoke(lineage_app, ["lineage", "churn/1", "--format", "png"])
    assert bad.exit_code == 2 and "Unknown lineage format 'png'" in bad.stderr
    missing = runner.invoke(lineage_app, ["lineage", "chrun"])
    assert missing.exit_code == 2 and "Did you mean 'churn'" in missing.stderr
