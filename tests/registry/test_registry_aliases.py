"""Aliases: audited set / delete / rollback, the stored record format, races, tags, listing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from registry_helpers import add_version

from nbops.exceptions import NotFoundError, UsageError
from nbops.registry import (
    delete_alias,
    delete_tag,
    history,
    list_models,
    resolve,
    rollback,
    set_alias,
    set_description,
    set_tag,
    versions,
)
from nbops.store import Store

KEY = re.compile(r"^nbops\.audit\.\d{13}\.[0-9a-f]{6}$")
WHEN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def audit_tags(client, name="churn"):
    return {k: v for k, v in client.get_registered_model(name).tags.items()
            if k.startswith("nbops.audit.")}


def test_promote_then_rollback_leaves_two_records_and_the_old_version(churn, client):
    set_alias("churn", "prod", 1, reason="baseline")
    client_records_before = len(audit_tags(client))
    first = set_alias("churn", "prod", "2", reason="AUC 0.91 > 0.88")
    back = rollback("churn", "prod", reason="latency regression")

    assert resolve("churn@prod").version == "1"
    assert len(audit_tags(client)) == client_records_before + 2
    assert (first.action, first.from_version, first.to_version) == ("set", "1", "2")
    assert (back.action, back.from_version, back.to_version) == ("rollback", "2", "1")
    assert [(r.action, r.to_version) for r in history("churn", "prod")] == [
        ("set", "1"), ("set", "2"), ("rollback", "1")]


def test_the_stored_record_is_the_documented_json(churn, client):
    record = set_alias("churn", "prod", 3, reason="why not")
    [(key, value)] = audit_tags(client).items()
    assert KEY.match(key) and key == record.key
    data = json.loads(value)
    assert data == {"alias": "prod", "from_version": None, "to_version": "3",
                    "when": data["when"], "who": "ada", "reason": "why not", "action": "set",
                    "prev": None}
    assert WHEN.match(data["when"])
    assert record.to_dict() == data
    second = set_alias("churn", "prod", 1)
    assert json.loads(audit_tags(client)[second.key])["prev"] == record.key


def test_who_prefers_jupyterhub_user(churn, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    assert set_alias("churn", "prod", 1).who == "grace"


def test_rollback_with_no_earlier_version_says_so(churn):
    set_alias("churn", "prod", 2)
    with pytest.raises(UsageError, match="no earlier version to roll back to"):
        rollback("churn", "prod")
    with pytest.raises(UsageError, match="no recorded change"):
        rollback("churn", "canary")


def test_rolling_back_twice_returns_and_delete_can_be_rolled_back(churn):
    set_alias("churn", "prod", 1)
    set_alias("churn", "prod", 2)
    rollback("churn", "prod")
    assert resolve("churn@prod").version == "1"
    rollback("churn", "prod")
    assert resolve("churn@prod").version == "2"
    gone = delete_alias("churn", "prod", reason="incident")
    assert (gone.action, gone.from_version, gone.to_version) == ("delete", "2", None)
    with pytest.raises(NotFoundError):
        resolve("churn@prod")
    assert rollback("churn", "prod").to_version == "2"
    assert resolve("churn@prod").version == "2"


def test_history_is_sorted_by_time_and_filters_by_alias(churn):
    for alias, version in [("prod", 1), ("staging", 2), ("prod", 3), ("staging", 3)]:
        set_alias("churn", alias, version)
    records = history("churn")
    assert [r.key for r in records] == sorted(r.key for r in records)
    assert [r.millis for r in records] == sorted(r.millis for r in records)
    assert len({r.millis for r in records}) == 4  # strictly increasing
    assert [r.to_version for r in history("churn", "staging")] == ["2", "3"]


def test_alias_errors_name_what_exists(churn):
    with pytest.raises(NotFoundError, match="no version 9"):
        set_alias("churn", "prod", 9)
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        set_alias("chrn", "prod", 1)
    set_alias("churn", "prod", 1)
    with pytest.raises(NotFoundError, match="no alias 'prd'.*Did you mean 'prod'"):
        delete_alias("churn", "prd")
    with pytest.raises(UsageError, match="reserved"):
        set_alias("churn", "latest", 1)


RACER = """
import os, sys, time
from nbops.registry import set_alias
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
for i in range(5):
    set_alias("churn", "prod", sys.argv[2], reason=f"{os.environ['NBOPS_USER']} #{i}")
"""


def test_two_processes_racing_are_both_audited_and_the_last_write_wins(churn, project, client):
    start = time.time() + 6  # both interpreters have imported mlflow by then
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_USER"}
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(start), version], cwd=project,
                              env={**env, "NBOPS_USER": user}, stderr=subprocess.PIPE, text=True)
             for user, version in (("alice", "1"), ("bob", "2"))]
    for proc in procs:
        assert proc.wait(120) == 0, proc.stderr.read()

    records = history("churn", "prod")
    assert len(records) == 10
    assert sorted(r.who for r in records) == ["alice"] * 5 + ["bob"] * 5
    assert records[0].from_version is None and records[0].prev is None
    for before, after in zip(records, records[1:], strict=False):  # an unbroken chain
        assert after.from_version == before.to_version
        assert after.prev == before.key and after.applied
    assert resolve("churn@prod").version == records[-1].to_version


def test_tags_and_descriptions_on_models_and_versions(churn, client):
    set_tag("churn", "team", "vision")
    set_tag("churn", "validated", "yes", version=2)
    set_description("churn", "Monthly churn")
    set_description("churn", "the good one", version=2)
    model = client.get_registered_model("churn")
    assert model.tags["team"] == "vision" and model.description == "Monthly churn"
    mv = client.get_model_version("churn", "2")
    assert mv.tags["validated"] == "yes" and mv.description == "the good one"
    delete_tag("churn", "validated", version=2)
    assert "validated" not in client.get_model_version("churn", "2").tags
    with pytest.raises(NotFoundError, match="no tag 'tem'.*Did you mean 'team'"):
        delete_tag("churn", "tem")
    with pytest.raises(UsageError, match="audit record"):
        set_tag("churn", "nbops.audit.0000000000001.abcdef", "{}")


def test_list_models_and_versions(churn, client):
    add_version(client, "churn-small", churn)
    add_version(client, "fraud", churn)
    set_alias("churn", "prod", 2, reason="x")
    page = list_models()
    assert [m.name for m in page] == ["churn", "churn-small", "fraud"]
    assert page.next_page_token is None
    churn_info = page[0]
    assert churn_info.aliases == {"prod": "2"} and churn_info.latest_version == "3"
    assert not any(k.startswith("nbops.audit.") for k in churn_info.tags)
    assert [m.name for m in list_models("CHURN")] == ["churn", "churn-small"]
    first = list_models(max_results=2)
    assert len(first) == 2 and first.next_page_token
    assert [m.name for m in list_models(max_results=2, page_token=first.next_page_token)] == [
        "fraud"]
    found = versions("churn")
    assert [v.version for v in found] == ["3", "2", "1"]
    assert found[1].aliases == ["prod"] and found[1].run_id == churn
    assert json.dumps(found[0].to_dict())


def test_a_models_updated_at_counts_alias_moves(client, tracker):
    import time

    from registry_helpers import add_version

    from nbops.registry import list_models, set_alias

    add_version(client, "moved", None)
    before = list_models(store=Store(client.tracking_uri))[0].updated_at
    time.sleep(0.05)
    set_alias("moved", "prod", 1, reason="first", store=Store(client.tracking_uri))
    after = [m for m in list_models(store=Store(client.tracking_uri)) if m.name == "moved"][0].updated_at
    assert after > before
