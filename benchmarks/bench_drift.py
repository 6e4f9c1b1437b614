"""Drift check: nbops vs evidently's DataDriftPreset on the same data, in the same run.

Reference and current frames of N rows x 20 columns (15 numeric, 5 categorical); the current
frame shifts 6 numeric columns and 1 categorical one. ``num_14`` carries three 99999 sentinels
on each side and ``cat_4`` has 3,000 Zipf-distributed categories: neither drifts. evidently
runs in its auto mode (no DataDefinition: it types the columns itself, from the current data),
as nbops does. Every measurement runs in its own subprocess so peak RSS is honest; CPU seconds
are reported next to wall seconds because the machine may be shared. Prints one JSON document.

    python benchmarks/bench_drift.py                  # 100,000 and 1,000,000 rows (~3 min)
    python benchmarks/bench_drift.py --rows 100000    # skip the slow 1M evidently case
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time


def make_frame(n: int, drifted: bool, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    # 10 normal columns; num_0..num_3 shift by 0.25-0.5 std, num_4 by 0.15 std (near threshold)
    shifts = {0: 0.5, 1: 0.25, 2: 0.3, 3: 0.4, 4: 0.15} if drifted else {}
    for i in range(10):
        sd = 1.0 + i
        cols[f"num_{i}"] = rng.normal(10.0 * i + shifts.get(i, 0.0) * sd, sd, n)
    for i in range(10, 13):  # heavy right tail; num_10 scale grows 20 % when drifted
        cols[f"num_{i}"] = rng.lognormal(0.0, 1.0, n) * (1.2 if drifted and i == 10 else 1.0)
    for i in range(13, 15):
        cols[f"num_{i}"] = rng.uniform(-5, 5, n)
    cols["num_14"][:3] = 99999.0  # sentinels
    cats = {0: 3, 1: 5, 2: 8, 3: 12}
    for j, k in cats.items():
        p = np.arange(1, k + 1, dtype=float)
        if drifted and j == 0:
            p = p[::-1]
        cols[f"cat_{j}"] = rng.choice([f"v{x}" for x in range(k)], n, p=p / p.sum())
    zipf = 1.0 / np.arange(1, 3001) ** 1.1
    cols["cat_4"] = rng.choice([f"c{x}" for x in range(3000)], n, p=zipf / zipf.sum())
    return pd.DataFrame(cols, copy=False)  # no consolidated copy: the peak stays the data




def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_nbops(n: int) -> dict:
    from nbops.monitoring import drift, profile

    ref = make_frame(n, False, 1)
    t0, c0 = time.perf_counter(), time.process_time()
    prof = profile(ref, name="reference")
    t_profile, c_profile = time.perf_counter() - t0, time.process_time() - c0
    profile_bytes = len(prof.to_json())
    del ref
    cur = make_frame(n, True, 2)
    rss_data = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    res = drift(cur, prof)
    t_drift, c_drift = time.perf_counter() - t0, time.process_time() - c0
    return {
        "profile_s": round(t_profile, 3), "drift_s": round(t_drift, 3),
        "profile_cpu_s": round(c_profile, 3), "drift_cpu_s": round(c_drift, 3),
        "profile_json_bytes": profile_bytes, "rss_before_drift_mb": round(rss_data, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "verdicts": {c: r.drifted for c, r in res.columns.items()},
        "scores": {c: r.score for c, r in res.columns.items()},
        "share": res.share, "dataset_drift": res.dataset_drift,
    }


def worker_evidently(n: int) -> dict:
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = make_frame(n, False, 1), make_frame(n, True, 2)
    rss_data = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    snap = Report([DataDriftPreset()]).run(Dataset.from_pandas(cur), Dataset.from_pandas(ref))
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    verdicts, scores, share = {}, {}, None
    for m in snap.dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            share = m["value"]["share"]
        elif cfg["type"].endswith("ValueDrift"):
            method, thr, v = cfg["method"], cfg["threshold"], m["value"]
            if "p_value" in method:
                verdicts[cfg["column"]] = bool(v <= thr if method.startswith("K-S") else v < thr)
            else:
                verdicts[cfg["column"]] = bool(v >= thr)
            scores[cfg["column"]] = float(v)
    return {"run_s": round(t_run, 3), "run_cpu_s": round(c_run, 3),
            "rss_before_run_mb": round(rss_data, 1),
            "peak_rss_mb": round(_peak_mb(), 1), "verdicts": verdicts, "scores": scores,
            "share": share}


def worker_html(n: int, sample: int | None) -> dict:
    import tempfile
    from pathlib import Path

    from nbops.monitoring import html_report

    ref, cur = make_frame(n, False, 1), make_frame(n, True, 2)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = html_report(cur, ref, Path(d) / "drift.html", sample=sample, preset=True)
        t = time.perf_counter() - t0
        size = out.stat().st_size
    return {"html_s": round(t, 3), "sample": sample, "html_bytes": size,
            "peak_rss_mb": round(_peak_mb(), 1)}


def _spawn(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", *args],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--html-sample", type=int, default=100_000,
                    help="rows sampled from each side for the HTML report (default 100000)")
    ap.add_argument("--no-evidently", action="store_true", help="time nbops only")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, n = args.worker[0], int(args.worker[1])
        if kind == "nbops":
            out = worker_nbops(n)
        elif kind == "evidently":
            out = worker_evidently(n)
        else:
            out = worker_html(n, int(args.worker[2]) if args.worker[2] != "none" else None)
        print(json.dumps(out))
        return

    import evidently
    import pandas

    results = []
    for n in args.rows:
        row: dict = {"rows": n, "columns": 20, "nbops": _spawn("nbops", str(n))}
        if not args.no_evidently:
            row["evidently"] = _spawn("evidently", str(n))
            ours, theirs = row["nbops"].get("verdicts", {}), row["evidently"].get("verdicts", {})
            row["agreement"] = {
                "columns": len(theirs),
                "same_verdict": sum(ours.get(c) == v for c, v in theirs.items()),
                "max_abs_score_diff": max(
                    (abs(row["nbops"]["scores"][c] - s) for c, s in
                     row["evidently"].get("scores", {}).items()
                     if c in row["nbops"].get("scores", {})),
                    default=None),
            }
            sample = args.html_sample if n > args.html_sample else None
            row["html_report"] = _spawn("html", str(n), str(sample) if sample else "none")
        results.append(row)
    print(json.dumps({
        "benchmark": "drift", "python": platform.python_version(),
        "evidently": evidently.__version__, "pandas": pandas.__version__,
        "cpus": len(__import__("os").sched_getaffinity(0)), "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
