"""Fingerprint throughput: nbops vs pandas.util.hash_pandas_object vs raw xxh3; directories.

Run:  python benchmarks/bench_fingerprint.py [--rows 10000000] [--files 10000]
Prints one JSON document. Times are the best of ``--repeat`` runs (page cache warm).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xxhash

from nbops.data import fingerprint
from nbops.data.files import hash_directory
from nbops.data.io_hooks import _HOOKS, _targets


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def numeric_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "f0": rng.random(rows),
            "f1": rng.random(rows),
            "f2": rng.standard_normal(rows),
            "i0": rng.integers(0, 1_000_000, rows),
            "i1": np.arange(rows, dtype="int64"),
        }
    )


def mixed_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = np.array(["alpha", "beta", "gamma", "delta", "épsilon", "zeta"], dtype=object)
    strings = words[rng.integers(0, len(words), rows)] + rng.integers(0, 10_000, rows).astype(str)
    nullable = pd.array(rng.integers(0, 100, rows), dtype="Int64")
    nullable[::10] = pd.NA
    obj = strings.astype(object)
    obj[::13] = None
    return pd.DataFrame(
        {
            "x": rng.random(rows),
            "n": rng.integers(0, 100, rows),
            "s": pd.Series(strings, dtype="str"),  # pandas 3 default: pyarrow-backed
            "o": pd.Series(obj, dtype=object),  # python str objects with None
            "c": pd.Categorical(words[rng.integers(0, len(words), rows)]),
            "i": nullable,
            "t": pd.date_range("2020-01-01", periods=rows, freq="s"),
        }
    )


def bench_numeric(rows: int, repeat: int) -> dict[str, Any]:
    df = numeric_frame(rows)
    nbytes = int(sum(df[c].to_numpy().nbytes for c in df.columns))

    def raw() -> None:
        h = xxhash.xxh3_128()
        for c in df.columns:
            h.update(df[c].to_numpy())

    t_nbops = best(lambda: fingerprint(df), repeat)
    t_sha = best(lambda: fingerprint(df, algorithm="sha256"), 1)
    t_raw = best(raw, repeat)
    t_pandas = best(lambda: pd.util.hash_pandas_object(df, index=False).sum(), 1)
    return {
        "rows": rows,
        "columns": df.shape[1],
        "bytes": nbytes,
        "nbops_xxh3_128_s": round(t_nbops, 4),
        "nbops_xxh3_128_gb_s": round(nbytes / t_nbops / 1e9, 2),
        "nbops_sha256_gb_s": round(nbytes / t_sha / 1e9, 2),
        "raw_xxh3_128_gb_s": round(nbytes / t_raw / 1e9, 2),
        "hash_pandas_object_gb_s": round(nbytes / t_pandas / 1e9, 2),
    }


def bench_mixed(repeat: int) -> dict[str, Any]:
    mixed = mixed_frame(1_000_000)
    t_mixed = best(lambda: fingerprint(mixed), repeat)
    t_mixed_pd = best(lambda: pd.util.hash_pandas_object(mixed, index=False).sum(), 1)
    per_column = {}
    for col in mixed.columns:
        one = mixed[[col]]
        per_column[f"{col}:{mixed[col].dtype}"] = round(best(lambda o=one: fingerprint(o), 1), 4)
    return {
        "rows": len(mixed),
        "dtypes": {c: str(d) for c, d in mixed.dtypes.items()},
        "nbops_s": round(t_mixed, 4),
        "hash_pandas_object_s": round(t_mixed_pd, 4),
        "nbops_s_per_column": per_column,
    }


def bench_directory(n_files: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nbops-bench-") as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(2)
        for i in range(n_files):
            sub = root / f"part-{i % 100:03d}"
            sub.mkdir(exist_ok=True)
            (sub / f"file-{i:05d}.bin").write_bytes(rng.bytes(int(rng.integers(100, 4096))))
        total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

        def naive() -> None:
            outer = hashlib.sha256()
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                outer.update(path.relative_to(root).as_posix().encode())
                outer.update(hashlib.sha256(path.read_bytes()).digest())

        naive()  # warm the page cache
        results = {
            "files": n_files,
            "bytes": total,
            "naive_sequential_hashlib_sha256": best(naive, repeat),
            "nbops_xxh3_128": best(lambda: fingerprint(root, progress=False), repeat),
            "nbops_sha256": best(lambda: fingerprint(root, algorithm="sha256"), repeat),
            "nbops_xxh3_128_1_thread": best(
                lambda: hash_directory(root, algorithm="xxh3_128", workers=1), repeat
            ),
            "nbops_xxh3_128_4_threads": best(
                lambda: hash_directory(root, algorithm="xxh3_128", workers=4), repeat
            ),
        }
    out: dict[str, Any] = {"files": n_files, "bytes": total}
    for key in list(results)[2:]:
        out[f"{key}_files_per_s"] = round(n_files / results[key])
    return out


def bench_hook_overhead() -> dict[str, Any]:
    """Cost a hook adds to a call that is not I/O (the wrapper's own bookkeeping)."""
    target = next(t for t in _targets() if t.name == "read_csv")

    def noop(buf: object) -> None:
        return None

    wrapped = _HOOKS.wrap(target, noop)
    calls = 200_000
    buf = object()  # not path-like: the hook records nothing, as for a buffer
    _HOOKS.subscribers = (object(),)  # type: ignore[assignment]  # an active block
    try:
        base = best(lambda: [noop(buf) for _ in range(calls)], 3)
        hooked = best(lambda: [wrapped(buf) for _ in range(calls)], 3)
    finally:
        _HOOKS.subscribers = ()
    return {"per_call_overhead_us": round((hooked - base) / calls * 1e6, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    report = {
        "benchmark": "fingerprint",
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "xxhash": xxhash.VERSION,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "numeric_frame": bench_numeric(args.rows, args.repeat),
        "mixed_frame_1m": bench_mixed(args.repeat),
        "directory": bench_directory(args.files, args.repeat),
        "io_hooks": bench_hook_overhead(),
    }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
