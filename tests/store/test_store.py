"""nbops.store against real stores: the embedded SQLite store and the PostgreSQL-backed
``mlflow server`` (the store suites run on both), a dead port and a server that never answers.

What is checked: the one error rule (not found, conflict, bad request, unavailable), searches
that page through everything, the time limit on every call, and models logged, registered and
loaded without touching MLflow's process-wide tracking URI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from nbops.config import Settings
from nbops.exceptions import (
    ConflictError,
    NotFoundError,
    PermanentStoreError,
    StoreUnavailableError,
)
from nbops.store import Store, open_store
from nbops.store import client as store_client
from nbops.store import tags as T


@pytest.fixture()
def store(settings: Settings) -> Store:
    return open_store(settings)


def test_not_found_conflict_and_bad_request_are_nbops_errors(store: Store):
    with pytest.raises(NotFoundError, match="reading model 'nope'"):
        store.registered_model("nope")
    store.ensure_registered_model("churn")
    store.ensure_registered_model("churn")  # the second one finds it: no error
    client = store.client
    with pytest.raises(ConflictError, match="creating model"):
        store.call("creating model 'churn'", client.create_registered_model, "churn")
    with pytest.raises(PermanentStoreError, match="Fix the value"):
        store.set_alias("churn", "prod", "not-a-version")


def test_searches_page_through_everything(store: Store, monkeypatch: pytest.MonkeyPatch):
    for i in range(23):
        store.ensure_registered_model(f"m{i:02d}")
    exp = store.experiment_id("paging")
    for i in range(12):
        store.create_run(exp, f"uid-{i}", f"r{i}", time.time(), None)
    # Small pages, so that one search needs several requests.
    monkeypatch.setitem(store_client._PAGE, "registered_models", 5)
    monkeypatch.setitem(store_client._PAGE, "runs", 5)
    assert len(store.registered_models()) == 23
    assert len(store.registered_models(limit=7)) == 7
    assert len(store.runs([exp])) == 12
    assert store.find_run(exp, "uid-11") is not None


def test_runs_and_tags_round_trip(store: Store):
    exp = store.experiment_id("round-trip")
    assert store.experiment_id("round-trip") == exp
    run_id = store.create_run(exp, "uid-a", "a", time.time(), None)
    # 4,500 points: five requests, four of them side by side on a server; "acc" first
    # appears in two of those at once (both would create its latest-value row)
    loss = [["loss", 1.0 / (i + 1), 0, i] for i in range(3500)]
    acc = [["acc", i / 1000, 0, i] for i in range(1000)]
    store.log_batch(run_id, loss[:1500], {"lr": "0.1"}, {T.STEP: "train"})
    mixed = [p for pair in zip(loss[2500:], acc, strict=True) for p in pair]
    store.log_batch(run_id, loss[1500:2500] + mixed, {}, {})
    run = store.run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags[T.RUN_UID] == "uid-a"
    assert run.data.tags[T.STEP] == "train"
    assert len(store.metric_history(run_id, "loss")) == 3500
    assert len(store.metric_history(run_id, "acc")) == 1000
    assert run.data.metrics == {"loss": 1.0 / 3500, "acc": 0.999}  # the last step's values
    store.terminate(run_id, "FINISHED", time.time())
    assert store.run(run_id).info.status == "FINISHED"


SHIPS_AT_EXIT = """
import atexit, sys, time
from nbops.store import Store
store = Store(sys.argv[1])
run_id = store.create_run(store.experiment_id("at-exit"), "uid-exit", "exit", time.time(), None)
print(run_id, flush=True)
# the spool's last shipment runs in an exit handler, after Python has shut its thread pools
atexit.register(lambda: store.log_batch(run_id, [["loss", 1.0, 0, i] for i in range(3500)],
                                        {}, {}))
"""


def test_a_large_batch_shipped_in_an_exit_handler_arrives_whole(store: Store, tmp_path):
    done = subprocess.run([sys.executable, "-c", SHIPS_AT_EXIT, store.tracking_uri],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[0]
    assert len(store.metric_history(run_id, "loss")) == 3500


def test_a_model_is_logged_registered_and_loaded_without_the_global_uri(store: Store, tmp_path):
    """The pyfunc flavor of a tiny model: saved locally, uploaded through the store's own
    client, registered with its logged model's location, downloaded and loaded back."""
    import mlflow
    import numpy as np
    import pandas as pd

    from nbops.registry.models import register_version
    from nbops.store.models import download_model, load_model, log_model_files

    class Double(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return np.asarray(model_input) * 2

    global_uri = mlflow.get_tracking_uri()
    exp = store.experiment_id("models")
    run_id = store.create_run(exp, "uid-m", "train", time.time(), None)
    logged = store.create_logged_model(exp, name="double", source_run_id=run_id)
    log_model_files(store, "pyfunc", logged.model_id, run_id, python_model=Double())
    version = register_version(store, "double", logged, run_id, {T.SOURCE_RUN: run_id})
    assert version == "1"
    assert store.model_version("double", 1).tags[T.SOURCE_RUN] == run_id
    model = load_model(store, "models:/double/1")
    assert model.predict(pd.DataFrame({"x": [1.0, 2.0]})).tolist() == [[2.0], [4.0]]
    store.set_alias("double", "prod", "1")
    folder = download_model(store, "models:/double@prod", tmp_path / "dl")
    assert (folder / "MLmodel").is_file()
    assert mlflow.get_tracking_uri() == global_uri  # never swapped
    assert "MLFLOW_TRACKING_URI" not in os.environ or os.environ["MLFLOW_TRACKING_URI"] != \
        store.tracking_uri


@pytest.fixture()
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (a hung store)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_dead_port_is_an_outage_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens
    store = Store(f"http://127.0.0.1:{port}", timeout=5)
    store.client  # noqa: B018 - import MLflow before timing
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="unreachable"):
        store.registered_models()
    assert time.monotonic() - started < 2


def test_a_hung_server_is_an_outage_within_the_time_limit(silent_server: str):
    store = Store(silent_server, timeout=1.0)
    store.client  # noqa: B018 - import MLflow before timing
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"did not answer within 1 s.*NBOPS_STORE_TIMEOUT"):
        store.run("0" * 32)
    assert time.monotonic() - started < 4


def test_a_script_against_a_hung_server_exits_promptly(silent_server: str, tmp_path):
    """From nothing: a fresh process, its store a server that never answers; the read fails
    within NBOPS_STORE_TIMEOUT and the process exits (the call's thread never holds it)."""
    script = ("from nbops.store import open_store\n"
              "from nbops.exceptions import StoreUnavailableError\n"
              "try:\n    open_store().registered_models()\n"
              "except StoreUnavailableError as exc:\n    print('outage:', exc)\n")
    env = {**os.environ, "NBOPS_TRACKING_URI": silent_server, "NBOPS_STORE_TIMEOUT": "1.5"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "did not answer within 1.5 s" in done.stdout
    # import mlflow takes a few seconds on a loaded machine; MLflow's own retries take minutes.
    assert time.monotonic() - started < 30


def test_nbops_status_tells_a_hung_server_from_a_healthy_one(silent_server: str, settings: Settings,
                                                             tmp_path):
    """From nothing, as a user types it: `nbops status` asks the server's /health (no MLflow
    import). A server that accepts connections and never answers is named as hung; the
    store of this suite (the embedded file, or the PostgreSQL-backed server) is ok."""
    def status(uri: str) -> str:
        env = {**os.environ, "NBOPS_TRACKING_URI": uri}
        done = subprocess.run([sys.executable, "-m", "nbops", "status"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return next(line for line in done.stdout.splitlines() if line.startswith("store health"))

    hung = status(silent_server)
    assert "accepts connections but did not answer" in hung and "/health" in hung, hung
    healthy = status(settings.tracking_uri)
    assert healthy.endswith(": ok") or "not created yet" in healthy, healthy
