"""An alias move and its audit record are one operation against the store.

The record is written first (a writer that dies before the move leaves a record that readers
flag as not applied), ``expected_current`` is checked at the moment of the move, and the store
arbitrates between writers: two real processes racing to move one alias from the same version,
on one machine (sharing the lock file) or as if on two machines (each its own temporary folder,
so no shared lock), against one real ``mlflow server``: exactly one wins, the other gets
ConflictError naming where the alias points, and the audit chain stays linear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from nbops_test_support import MlflowServer
from registry_helpers import add_version, start_run

from nbops.exceptions import ConflictError
from nbops.registry import api, history, resolve, rollback, set_alias
from nbops.registry.audit import lock_path
from nbops.store import Store

CLEAN_ENV = ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME", "NBOPS_EXPERIMENT",
             "NBOPS_NO_CAPTURE", "NBOPS_PARENT_RUN_ID", "NBOPS_NOTEBOOK_PATH", "JUPYTERHUB_USER",
             "TMPDIR")


def test_expected_current_is_checked_at_the_move(churn, client):
    set_alias("churn", "prod", 1)
    moved = set_alias("churn", "prod", 2, expected_current=1)
    assert (moved.from_version, moved.to_version) == ("1", "2")
    with pytest.raises(ConflictError, match=r"points at v2, not v1 as expected") as err:
        set_alias("churn", "prod", 3, expected_current="1")
    assert err.value.current == "2"
    with pytest.raises(ConflictError) as unset:
        set_alias("churn", "canary", 3, expected_current=2)
    assert unset.value.current is None
    assert set_alias("churn", "canary", 3, expected_current="").from_version is None
    assert resolve("churn@prod").version == "2"
    assert [r.to_version for r in history("churn", "prod")] == ["1", "2"]  # nothing written


def test_rollback_and_delete_check_the_expected_version_too(churn, client):
    set_alias("churn", "prod", 1)
    set_alias("churn", "prod", 2)
    assert rollback("churn", "prod", expected_current=2).to_version == "1"
    with pytest.raises(ConflictError, match=r"points at v1, not v2 as expected") as err:
        rollback("churn", "prod", expected_current="2")  # a second click on a stale view
    assert err.value.current == "1"
    with pytest.raises(ConflictError):
        api.delete_alias("churn", "prod", expected_current=2)
    assert resolve("churn@prod").version == "1"
    assert [r.to_version for r in history("churn", "prod")] == ["1", "2", "1"]  # nothing more
    assert api.delete_alias("churn", "prod", expected_current=1).to_version is None


DIES_BEFORE_THE_MOVE = """
import os
from nbops.registry import api
api._point = lambda *args, **kwargs: os._exit(3)  # the process dies between record and move
api.set_alias("churn", "prod", 3, reason="never happened")
"""


def test_a_writer_that_dies_after_its_record_leaves_a_record_flagged_not_applied(
        churn, client, project, monkeypatch):
    set_alias("churn", "prod", 1)
    set_alias("churn", "prod", 2)
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_USER"}
    died = subprocess.run([sys.executable, "-c", DIES_BEFORE_THE_MOVE], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert died.returncode == 3, died.stderr
    assert resolve("churn@prod").version == "2"  # the move never happened

    dead = history("churn", "prod")[-1]
    assert (dead.reason, dead.from_version, dead.to_version, dead.applied) == (
        "never happened", "2", "3", False)
    # Rollback ignores it: the last change that happened is 1 -> 2.
    monkeypatch.setattr(api, "LEASE_S", 0.5)  # do not wait 10 s for a writer known dead
    back = rollback("churn", "prod", reason="undo 1 -> 2")
    assert (back.from_version, back.to_version, back.prev) == ("2", "1", dead.key)
    records = history("churn", "prod")
    assert [(r.to_version, r.applied) for r in records] == [
        ("1", True), ("2", True), ("3", False), ("1", True)]
    assert records[-2].key == dead.key  # still there, flagged, in its place in the chain


def test_a_record_whose_alias_was_moved_outside_nbops_since_counts_as_applied(churn, client):
    set_alias("churn", "prod", 1)
    set_alias("churn", "prod", 2)
    client.set_registered_model_alias("churn", "prod", "3")  # the MLflow UI, say
    assert [r.applied for r in history("churn", "prod")] == [True, True]
    assert rollback("churn", "prod").to_version == "2"  # back to what nbops set


# -- two writers racing against one real mlflow server --------------------------------------

RACER = """
import json, sys, time
from nbops.exceptions import ConflictError
from nbops.registry import set_alias

start, rounds = float(sys.argv[1]), int(sys.argv[2])
for r in range(rounds):
    time.sleep(max(0.0, start + 2.0 * r - time.time()))
    try:
        rec = set_alias("churn", "prod", r + 2, reason=f"round {r}", expected_current=r + 1)
        print(json.dumps({"round": r, "won": rec.key}), flush=True)
    except ConflictError as exc:
        print(json.dumps({"round": r, "conflict": exc.current}), flush=True)
"""
ROUNDS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    srv = MlflowServer(tmp_path_factory.mktemp("race"))
    srv.start(timeout=240)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("machines", ["one machine", "two machines"])
def test_two_processes_racing_from_the_same_version_one_wins(server, tmp_path, machines):
    from mlflow import MlflowClient

    client = MlflowClient(server.url, registry_uri=server.url)
    model = f"churn-{machines.split()[0]}"
    run_id = start_run(client, "train", exp=f"race-{model}")
    for _ in range(ROUNDS + 1):
        add_version(client, model, run_id)
    set_alias(model, "prod", 1, reason="start", store=Store(client.tracking_uri))

    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    start = time.time() + 8  # both interpreters have imported mlflow by then
    procs = []
    for user in ("alice", "bob"):
        home = tmp_path / user
        (home / "tmp").mkdir(parents=True)
        own = {"TMPDIR": str(home / "tmp")} if machines == "two machines" else {}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", RACER.replace('"churn"', repr(model)), str(start),
             str(ROUNDS)],
            cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**env, **own, "NBOPS_TRACKING_URI": server.url, "NBOPS_HOME": str(home / ".nbops"),
                 "NBOPS_USER": user}))
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outcomes.append([json.loads(line) for line in out.splitlines()])

    if machines == "two machines":  # each had its own lock file: the store alone arbitrated
        name = lock_path(server.url).name
        assert all((tmp_path / u / "tmp" / "nbops-locks" / name).exists()
                   for u in ("alice", "bob"))
    records = history(model, "prod", store=Store(client.tracking_uri))
    wins = [r.reason for r in records[1:]]
    for r in range(ROUNDS):
        results = [o[r] for o in outcomes]
        assert sum("won" in x for x in results) == 1, results
        loser = next(x for x in results if "conflict" in x)
        # ConflictError names where the alias is: where this round's winner put it, or further
        # on when the loser was slow enough to meet the next round's move
        assert int(loser["conflict"]) >= r + 2
    assert wins == [f"round {r}" for r in range(ROUNDS)]  # one record per move, no more
    assert {x["won"] for o in outcomes for x in o if "won" in x} == {r.key for r in records[1:]}
    for before, after in zip(records, records[1:], strict=False):  # linear: no fork, no gap
        assert after.prev == before.key
        assert after.from_version == before.to_version and after.applied
    assert resolve(f"{model}@prod", store=Store(client.tracking_uri)).version == str(ROUNDS + 1)
