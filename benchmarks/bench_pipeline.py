"""Pipeline runner figures (prints JSON; see docs/pipelines.md):

* per-step overhead of ``nbops run`` vs ``papermill.execute_notebook`` on the same 3-cell
  notebook, in the same process (5 chained steps vs 5 papermill calls);
* a fully cached re-run of a 4-step pipeline;
* 8 independent steps on 2 workers vs 1.

    .venv/bin/python benchmarks/bench_pipeline.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, fresh_project, machine  # noqa: E402

STEPS = 5


def _notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                             new_code_cell("y = x * 2"), new_code_cell("print(y)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def _spec(root: Path, name: str, n: int, chained: bool) -> Path:
    lines = [f"name: {name}", "steps:"]
    for i in range(n):
        lines += [f"  s{i}:", "    notebook: three.ipynb", f"    parameters: {{x: {i}}}"]
        if chained and i:
            lines.append(f"    depends_on: [s{i - 1}]")
    path = root / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    import papermill

    from nbops.pipeline.runner import run_pipeline

    root = fresh_project()
    os.chdir(root)
    _notebook(root / "three.ipynb")
    chained = _spec(root, "chain", STEPS, chained=True)
    four = _spec(root, "four", 4, chained=True)
    wide = _spec(root, "wide", 8, chained=False)

    run_pipeline(four, quiet=True)  # warm-up: creates the store, imports everything
    papermill.execute_notebook(str(root / "three.ipynb"), str(root / "out.ipynb"),
                               parameters={"x": 0}, progress_bar=False)

    pm = []
    for i in range(STEPS):
        t = time.perf_counter()
        papermill.execute_notebook(str(root / "three.ipynb"), str(root / "out.ipynb"),
                                   parameters={"x": i}, progress_bar=False)
        pm.append(time.perf_counter() - t)
    t = time.perf_counter()
    result = run_pipeline(chained, force=True, quiet=True)
    nbops_total = time.perf_counter() - t
    assert result.ok
    warm = sum(1 for s in result.steps.values() if s.reason == "warm kernel")

    cached = []
    for _ in range(3):
        t = time.perf_counter()
        r = run_pipeline(four, quiet=True)
        cached.append(time.perf_counter() - t)
        assert all(s.status == "cached" for s in r.steps.values())

    t = time.perf_counter()
    assert run_pipeline(wide, force=True, workers=1, quiet=True).ok
    serial = time.perf_counter() - t
    t = time.perf_counter()
    assert run_pipeline(wide, force=True, workers=2, quiet=True).ok
    parallel = time.perf_counter() - t

    papermill_per_step = statistics.median(pm)
    nbops_per_step = nbops_total / STEPS
    emit({
        "benchmark": "pipeline",
        "machine": machine(),
        "per_step": {
            "papermill_api_s": round(papermill_per_step, 3),
            "nbops_run_s": round(nbops_per_step, 3),
            "overhead_s": round(nbops_per_step - papermill_per_step, 3),
            "steps": STEPS, "warm_kernel_steps": warm,
            "note": "nbops includes the pipeline run, step runs and artifacts (HTML in background)",
        },
        "cached_rerun_4_steps_s": round(statistics.median(cached), 3),
        "independent_8_steps": {"workers_1_s": round(serial, 3),
                                "workers_2_s": round(parallel, 3),
                                "speedup": round(serial / parallel, 2)},
    })


if __name__ == "__main__":
    main()
