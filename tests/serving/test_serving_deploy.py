"""Deployment patterns on real server processes: canary shares and stickiness, shadow copies
never returned and predicted in a process of their own that may die without hurting the primary
(and dies with its server), blue-green swaps and a rollback under concurrent load with no failed request
and no lost log record, each swap in the alias audit trail."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from serving_helpers import FEATURES, make_model

import nbops
from nbops.registry import history, rollback, set_alias

ROW = [0.3] * FEATURES


def _prediction(seed: int) -> list[float]:
    import torch

    with torch.no_grad():
        return make_model(seed)(torch.tensor([ROW])).numpy()[0].tolist()


def test_canary_share_is_within_statistical_bounds_and_sticky_per_key(start_server):
    server = start_server("tiny@prod", canary="challenger=10%")
    n = 2000
    with httpx.Client(base_url=server.url) as http:
        routes = Counter()
        for _ in range(n):
            resp = http.post("/invocations", json={"inputs": [ROW]})
            routes[resp.headers["x-nbops-route"]] += 1
            version = resp.headers["x-nbops-version"]
            assert version == ("2" if resp.headers["x-nbops-route"] == "canary" else "1")
        # binomial(2000, 0.1): mean 200, sd 13.4; five sd either side
        assert 133 <= routes["canary"] <= 267, routes
        assert routes["primary"] + routes["canary"] == n
        by_key = {}
        for key in (f"customer-{i}" for i in range(300)):
            seen = {http.post("/invocations", json={"inputs": [ROW]},
                              headers={"X-Nbops-Key": key}).headers["x-nbops-route"]
                    for _ in range(3)}
            assert len(seen) == 1, (key, seen)  # a key always lands on the same route
            by_key[key] = seen.pop()
        assert 5 <= Counter(by_key.values())["canary"] <= 60  # binomial(300, 0.1), ~5 sd


def test_shadow_predictions_are_logged_and_never_returned(start_server):
    server = start_server("tiny@prod", shadow="challenger")
    primary, challenger = _prediction(0), _prediction(1)
    assert not np.allclose(primary, challenger)
    since = time.time()
    ids = []
    with httpx.Client(base_url=server.url) as http:
        for _ in range(30):
            resp = http.post("/nbops/v1/predict", json={"inputs": [ROW]})
            body = resp.json()
            assert (body["version"], body["route"]) == ("1", "primary")
            np.testing.assert_allclose(body["predictions"][0], primary, atol=1e-5)
            ids.append(body["request_id"])
    deadline = time.time() + 10
    shadow = nbops.serve.read_log("tiny", since=since, routes=("shadow",))
    while len(shadow) < len(ids) and time.time() < deadline:
        time.sleep(0.2)
        shadow = nbops.serve.read_log("tiny", since=since, routes=("shadow",))
    assert sorted(shadow["request_id"]) == sorted(ids)
    assert set(shadow["version"]) == {"2"}
    np.testing.assert_allclose(np.stack(shadow["scores"]), [challenger] * len(ids), atol=1e-5)
    returned = nbops.serve.read_log("tiny", since=since)
    assert sorted(returned["request_id"]) == sorted(ids) and set(returned["version"]) == {"1"}


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan may wait a while to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _wait_until(condition, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_a_killed_shadow_process_never_stops_the_primary(start_server):
    server = start_server("tiny@prod", shadow="challenger")
    primary = _prediction(0)
    since = time.time()
    with httpx.Client(base_url=server.url) as http:
        shadow = http.get("/nbops/v1/status").json()["shadow"]
        assert shadow["ref"] == "tiny@challenger" and shadow["running"]
        assert shadow["pid"] != server.pid
        os.kill(shadow["pid"], signal.SIGKILL)
        _wait_until(lambda: not http.get("/nbops/v1/status").json()["shadow"]["running"])
        answers = [http.post("/nbops/v1/predict", json={"inputs": [ROW]}) for _ in range(50)]
        shadow = http.get("/nbops/v1/status").json()["shadow"]
    assert {a.status_code for a in answers} == {200}
    assert {(a.json()["version"], a.json()["route"]) for a in answers} == {("1", "primary")}
    np.testing.assert_allclose([a.json()["predictions"][0] for a in answers], [primary] * 50,
                               atol=1e-5)
    assert shadow["dropped"] == 50  # every copy after its death counted, none sent
    logged = nbops.serve.read_log("tiny", since=since)
    assert sorted(logged["request_id"]) == sorted(a.json()["request_id"] for a in answers)
    assert "the shadow process of tiny@challenger" in server.output()


def test_the_shadow_process_logs_what_it_holds_and_dies_with_its_server(start_server):
    server = start_server("tiny@prod", shadow="challenger")
    since = time.time()
    with httpx.Client(base_url=server.url) as http:
        pid = http.get("/nbops/v1/status").json()["shadow"]["pid"]
        ids = [http.post("/nbops/v1/predict", json={"inputs": [ROW]}).json()["request_id"]
               for _ in range(20)]
    os.kill(server.pid, signal.SIGKILL)  # the server only: no clean stop, no signal to the shadow
    _wait_until(lambda: not _alive(pid))
    shadow = nbops.serve.read_log("tiny", since=since, routes=("shadow",))
    assert sorted(shadow["request_id"]) == sorted(ids) and set(shadow["version"]) == {"2"}


def test_the_shadow_follows_its_alias_and_its_swap_is_audited(start_server):
    server = start_server("tiny@prod", shadow="challenger", poll=0.3)

    def shadowed(version: str) -> None:
        """A request's copy predicted by the shadow's process with ``version``."""
        since = time.time()
        with httpx.Client(base_url=server.url) as http:
            rid = http.post("/nbops/v1/predict", json={"inputs": [ROW]}).json()["request_id"]
        def logged() -> bool:
            frame = nbops.serve.read_log("tiny", since=since, routes=("shadow",))
            return not frame.empty and rid in set(frame["request_id"])

        _wait_until(logged)
        shadow = nbops.serve.read_log("tiny", since=since, routes=("shadow",))
        assert set(shadow["version"]) == {version}

    def swapped() -> bool:
        last = [r for r in history("tiny", "challenger") if r.action == "serve"][-1:]
        return bool(last) and (last[0].from_version, last[0].to_version) == ("2", "1")

    shadowed("2")  # the shadow's process has loaded its version
    try:
        set_alias("tiny", "challenger", 1, reason="shadow v1 for a while")
        _wait_until(swapped)
        reason = [r for r in history("tiny", "challenger") if r.action == "serve"][-1].reason
        assert f"nbops serve {server.url} (shadow) swapped to v1" in reason
        shadowed("1")
    finally:
        set_alias("tiny", "challenger", 2, reason="restored")


def test_blue_green_swap_and_rollback_under_load(start_server):
    server = start_server("tiny@prod", poll=0.5)
    since = time.time()
    stop = threading.Event()
    answers: list[tuple[int, str, str, list]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def load(worker: int) -> None:
        with httpx.Client(base_url=server.url) as http:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    resp = http.post("/invocations", json={"inputs": [ROW]},
                                     headers={"X-Request-Id": f"bg-{worker}-{i}"})
                except httpx.TransportError as exc:
                    failures.append(repr(exc))
                    continue
                with lock:
                    answers.append((resp.status_code, resp.headers.get("x-nbops-version", ""),
                                    resp.headers.get("x-request-id", ""),
                                    resp.json().get("predictions")))

    def wait_for(version: str) -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            with lock:
                if answers and answers[-1][1] == version:
                    return
            time.sleep(0.1)
        raise AssertionError(f"the server did not swap to v{version}")

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(load, w) for w in range(4)]
        time.sleep(1.0)
        set_alias("tiny", "prod", 2, reason="promote challenger")
        wait_for("2")
        time.sleep(1.0)
        rollback("tiny", "prod", reason="bad canary metrics")
        wait_for("1")
        time.sleep(0.5)
        stop.set()
        for f in futures:
            f.result()

    assert failures == [] and len(answers) > 100
    assert {status for status, *_ in answers} == {200}
    expected = {"1": _prediction(0), "2": _prediction(1)}
    for _, version, _, predictions in answers:
        np.testing.assert_allclose(predictions[0], expected[version], atol=1e-5)
    versions = [v for _, v, _, _ in answers]
    assert versions[0] == "1" and versions[-1] == "1" and "2" in versions
    logged = nbops.serve.read_log("tiny", since=since)
    by_id = dict(zip(logged["request_id"], logged["version"], strict=True))
    assert {rid: v for _, v, rid, _ in answers} == by_id  # every answer logged, same version
    swaps = [(r.from_version, r.to_version) for r in history("tiny", "prod")
             if r.action == "serve"]
    assert swaps[-2:] == [("1", "2"), ("2", "1")]
    assert "requests in flight finished on v1" in [
        r.reason for r in history("tiny", "prod") if r.action == "serve"][-2]


def test_an_alias_deleted_while_serving_is_reported_and_the_old_version_keeps_serving(
        start_server):
    from nbops.registry import delete_alias

    server = start_server("tiny@prod", canary="challenger=50%", poll=0.3)
    try:
        delete_alias("tiny", "challenger", reason="withdrawn")
        with httpx.Client(base_url=server.url) as http:
            deadline = time.time() + 30
            status = http.get("/nbops/v1/status").json()
            while not status["last_error"] and time.time() < deadline:
                time.sleep(0.2)
                status = http.get("/nbops/v1/status").json()
            assert "canary tiny@challenger: kept v2" in status["last_error"]
            assert "no alias 'challenger'" in status["last_error"]
            answers = [http.post("/invocations", json={"inputs": [ROW]}) for _ in range(40)]
            assert {a.status_code for a in answers} == {200}
            assert {a.headers["x-nbops-version"] for a in answers} == {"1", "2"}
    finally:
        set_alias("tiny", "challenger", 2, reason="restored")


def test_two_workers_swap_and_record_each_swap_once(start_server):
    server = start_server("tiny@prod", workers=2, poll=0.3)
    started = len([r for r in history("tiny", "prod") if r.action == "serve"])

    def settle(version: str) -> None:
        deadline = time.time() + 60
        streak = 0
        with httpx.Client(base_url=server.url) as http:
            while streak < 40 and time.time() < deadline:  # both workers answer with it
                resp = http.post("/invocations", json={"inputs": [ROW]},
                                 headers={"Connection": "close"})
                assert resp.status_code == 200
                streak = streak + 1 if resp.headers["x-nbops-version"] == version else 0
        assert streak >= 40, f"the workers did not all move to v{version}"

    set_alias("tiny", "prod", 2, reason="promote")
    settle("2")
    rollback("tiny", "prod", reason="roll back")
    settle("1")
    time.sleep(1.0)  # a second worker's record, if it wrongly wrote one, would land by now
    swaps = [(r.from_version, r.to_version) for r in history("tiny", "prod")
             if r.action == "serve"][started:]
    assert swaps == [("1", "2"), ("2", "1")]
