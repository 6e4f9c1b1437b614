"""`import nbops` wall time in a fresh interpreter (median of N), beside `import mlflow`.

    python benchmarks/bench_import.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, machine, stats_ms  # noqa: E402


def cold(module: str, repeat: int) -> dict:
    base, full = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        full.append(time.perf_counter() - t0)
    s, b = stats_ms(full), stats_ms(base)
    return {"median_ms": round(s["median_ms"] - b["median_ms"], 1), "interpreter_ms": b["median_ms"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    emit({"benchmark": "import_time", "machine": machine(),
          "import_nbops": cold("nbops", args.repeat),
          "import_nbops_magics": cold("nbops.magics", args.repeat),
          "import_mlflow": cold("mlflow", max(3, args.repeat // 3)),
          "goal_import_nbops_ms": 150})


if __name__ == "__main__":
    main()
