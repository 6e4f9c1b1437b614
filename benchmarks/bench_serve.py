"""Serving figures: `nbops serve` against `mlflow models serve` of the same ONNX model.

Run:  python benchmarks/bench_serve.py > serve.json      (needs wrk: apt-get install wrk)
Prints one JSON document. The model is the demo's shape (16 features → 32 → 2), packaged to ONNX
by nbops; both servers get the same body (one example, batch 1, MLflow's ``inputs`` format)
from wrk on loopback: 8 connections, 2 threads. All servers run at once; three rounds of one 5 s
run per server (after a 2 s warm-up each), interleaved so that load from other jobs on the
machine falls on every server alike; medians are reported, with each run's requests/s. Each
round also measures p50 at 1 connection, where no request waits behind another: at 8
connections a saturated server's p50 is mostly queueing, so work added per request (a shadow)
shows there as its full CPU cost.

The shadow's cost on the primary's p50 is also measured as the median of 8 paired ratios (the
plain and the shadow server run back to back, 2 s each, at 8 and at 1 connection), which the
load of other jobs disturbs less than medians taken minutes apart.

Rows: mlflow models serve (its default: 1 uvicorn worker), nbops serve (1 worker, request log
on), nbops serve with a shadow (the challenger gets a copy of each request, predicted in a
process of its own at the lowest CPU priority; copies it could not keep up with are dropped:
their count over the whole run is reported), nbops serve with 2 workers. Then a blue-green swap and a rollback during one 12 s wrk run: failed requests
(non-2xx and socket errors) and requests answered but missing from the request log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, fresh_project, machine  # noqa: E402

BODY = {"inputs": [[round(0.1 * i, 1) for i in range(16)]]}
DURATION = 5
ROUNDS = 3
PAIRS = 8
PLAIN = "nbops serve (1 worker, request log on)"
SHADOW = "nbops serve + shadow (1 worker)"


def build_store(root: Path) -> None:
    """Two versions of the demo-shaped model, both packaged; prod → 1, challenger → 2."""
    import torch

    from nbops import log_model
    from nbops.registry.api import set_alias
    from nbops.tracking.run import track
    from nbops.workflows.package import onnx

    for seed in (0, 1):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(),
                                    torch.nn.Linear(32, 2)).eval()
        with track(f"train {seed}"):
            ref = log_model(model, "churn", input_example=torch.randn(1, 16),
                            pip_requirements=["torch"])
        onnx(str(ref), torch.randn(1, 16))
    import nbops

    nbops.flush(60)
    set_alias("churn", "prod", 1, reason="benchmark")
    set_alias("churn", "challenger", 2, reason="benchmark")


def start(args: list[str], root: Path, port: int, env: dict | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, **(env or {})})
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"{' '.join(args)} did not answer /ping on port {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def wrk(port: int, seconds: int, connections: int = 8) -> dict:
    """One wrk run: requests/s, p50/p99 ms, completed requests, failures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f"wrk.method = 'POST'\nwrk.body = '{json.dumps(BODY)}'\n"
                     "wrk.headers['Content-Type'] = 'application/json'\n")
    threads = min(2, connections)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
                          f"http://127.0.0.1:{port}/invocations"], capture_output=True,
                         text=True, check=True).stdout
    os.unlink(script.name)

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "failed": (sum(map(int, errors.groups())) if errors else 0)
            + (int(non2xx.group(1)) if non2xx else 0)}


def nbops_args(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nbops", "serve", "churn@prod", "--port", str(port), *extra]


def measure(servers: dict[str, tuple[list[str], int, dict | None]], root: Path,
            rounds: int) -> tuple[dict, dict]:
    """All servers up at once, then ``rounds`` rounds of one wrk run per server, interleaved so
    that the load other jobs put on the machine falls on each server alike; medians reported."""
    import statistics

    procs = [start(args, root, port, env) for args, port, env in servers.values()]
    try:
        for _, port, _ in servers.values():
            wrk(port, 2)  # warm-up
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        single: dict[str, list[float]] = {name: [] for name in servers}  # no queueing
        for _ in range(rounds):
            for name, (_, port, _) in servers.items():
                runs[name].append(wrk(port, DURATION))
                single[name].append(wrk(port, DURATION, connections=1)["p50_ms"])
        pairs = shadow_pairs(servers[PLAIN][1], servers[SHADOW][1])
        shadows = {name: shadow_counts(port) for name, (_, port, _) in servers.items()}
    finally:
        for proc in procs:
            stop(proc)
    return pairs, {name: {"requests_per_s": statistics.median(r["requests_per_s"] for r in rs),
                   "p50_ms": statistics.median(r["p50_ms"] for r in rs),
                   "p99_ms": statistics.median(r["p99_ms"] for r in rs),
                   "failed": sum(r["failed"] for r in rs),
                   "p50_ms_1_connection": statistics.median(single[name]),
                   "runs_requests_per_s": [r["requests_per_s"] for r in rs],
                   **({"shadow": shadows[name]} if shadows[name] else {})}
            for name, rs in runs.items()}


def shadow_pairs(plain: int, shadow: int, pairs: int = PAIRS, seconds: int = 2) -> dict:
    """The shadow's cost on the primary's p50, as the median of paired ratios: each pair runs
    the plain and the shadow server back to back (2 s each), so that load from other jobs,
    which changes from minute to minute, falls on both sides of a ratio alike."""
    import statistics

    ratios: dict[str, list[float]] = {"8_connections": [], "1_connection": []}
    for _ in range(pairs):
        for key, connections in (("8_connections", 8), ("1_connection", 1)):
            base = wrk(plain, seconds, connections)["p50_ms"]
            ratios[key].append(round(wrk(shadow, seconds, connections)["p50_ms"] / base - 1, 3))
    return {f"median_{key}": statistics.median(values) for key, values in ratios.items()} | {
        "pairs": ratios}


def shadow_counts(port: int) -> dict | None:
    """A shadow's copies mirrored and dropped over the whole run (None: no shadow)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/nbops/v1/status") as resp:
            shadow = json.loads(resp.read()).get("shadow")
    except OSError:  # mlflow models serve has no such route
        return None
    if not shadow:
        return None
    sent = shadow["mirrored"] + shadow["dropped"]
    return {"mirrored": shadow["mirrored"], "dropped": shadow["dropped"],
            "dropped_share": round(shadow["dropped"] / sent, 3) if sent else 0.0}


def swap_under_load(root: Path, port: int) -> dict:
    """A blue-green swap and a rollback during one wrk run; every answer must be logged."""
    import threading

    from nbops.registry.api import rollback, set_alias
    from nbops.serving.reqlog import read_records

    proc = start(nbops_args(port, "--poll", "0.5"), root, port)
    folder = root / ".nbops" / "serving" / "churn"
    before = len(read_records(folder))
    result: dict = {}
    try:
        runner = threading.Thread(target=lambda: result.update(wrk(port, 12)))
        runner.start()
        time.sleep(3)
        set_alias("churn", "prod", 2, reason="benchmark: blue-green")
        time.sleep(4)
        rollback("churn", "prod", reason="benchmark: rollback")
        runner.join()
    finally:
        stop(proc)
    logged = len(read_records(folder)) - before
    # wrk counts the answers it read; its connections may still have had requests in flight
    # at the end (answered and logged after wrk stopped reading), so logged >= answered.
    return {"answered": result["requests"], "failed": result["failed"],
            "logged": logged, "lost_log_records": max(0, result["requests"] - logged),
            "requests_per_s": result["requests_per_s"], "p99_ms": result["p99_ms"]}


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench_serve.py needs wrk on PATH (Debian: apt-get install wrk).")
    root = fresh_project()
    os.chdir(root)
    build_store(root)
    from nbops.config import load_settings

    uri = load_settings(root).tracking_uri
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    pairs, rows = measure({
        "mlflow models serve (1 worker)": (
            [mlflow_bin, "models", "serve", "-m", "models:/churn-onnx/1", "--env-manager",
             "local", "--workers", "1", "-p", "5811"], 5811,
            {"MLFLOW_TRACKING_URI": uri, "PATH": path}),  # mlflow runs `uvicorn` from PATH
        PLAIN: (nbops_args(5812), 5812, None),
        SHADOW: (nbops_args(5813, "--shadow", "challenger"), 5813, None),
        "nbops serve (2 workers)": (nbops_args(5814, "--workers", "2"), 5814, None),
    }, root, ROUNDS)
    base = rows["mlflow models serve (1 worker)"]
    ours, shadow = rows[PLAIN], rows[SHADOW]
    emit({
        "machine": machine(),
        "load": {"tool": "wrk", "connections": 8, "threads": 2, "seconds": DURATION,
                 "rounds": ROUNDS, "body": BODY, "route": "/invocations"},
        "servers": rows,
        "throughput_ratio_vs_mlflow": round(ours["requests_per_s"] / base["requests_per_s"], 2),
        "shadow_p50_overhead": round(shadow["p50_ms"] / ours["p50_ms"] - 1, 3),
        "shadow_p50_overhead_1_connection": round(
            shadow["p50_ms_1_connection"] / ours["p50_ms_1_connection"] - 1, 3),
        "shadow_p50_overhead_paired": pairs,
        "swap_and_rollback_under_load": swap_under_load(root, 5815),
    })


if __name__ == "__main__":
    main()
