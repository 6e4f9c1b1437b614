"""Steps on warm kernels: papermill's `nbops-warm` engine on kernels a pool started ahead."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from nbops.pipeline.executors import StepTask, execute_step
from nbops.pipeline.kernels import KernelPool


def _notebook(folder: Path, *sources: str) -> Path:
    nb = new_notebook(cells=[new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
                             *(new_code_cell(s) for s in sources)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "step.ipynb"
    nbformat.write(nb, path)
    return path


def _task(path: Path, x: int) -> StepTask:
    return StepTask(step="s", attempt=1, notebook_json=path.read_text(), notebook_path=str(path),
                    parameters={"x": x}, kernel="python3", timeout=60,
                    env={"NBOPS_STEP": f"step-{x}"})


def _stdout(notebook_json: str) -> list[str]:
    cells = json.loads(notebook_json)["cells"]
    return ["".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])
            if o.get("name") == "stdout"]


def test_steps_get_their_folder_and_variables_on_warm_kernels(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    path = _notebook(folder, "import os\nprint(os.getcwd(), os.environ['NBOPS_STEP'], x)")
    pool = KernelPool(env={}, log_dir=tmp_path / "logs")
    pool.prestart("python3")
    try:
        first = execute_step(_task(path, 1), pool)
        second = execute_step(_task(path, 2), pool)
    finally:
        pool.close()
    assert first.ok and second.ok, (first.failure, second.failure)
    assert first.warm_kernel and second.warm_kernel
    assert _stdout(first.notebook_json) == [f"{folder} step-1 1\n"]
    assert _stdout(second.notebook_json) == [f"{folder} step-2 2\n"]  # a fresh kernel each


def test_a_failing_cell_is_reported_with_the_notebook_so_far(tmp_path):
    path = _notebook(tmp_path, "print('before')", "raise ValueError(f'boom {x}')",
                     "print('never')")
    outcome = execute_step(_task(path, 3))  # no pool: a kernel started for this step
    assert not outcome.ok and not outcome.warm_kernel
    assert outcome.failure.ename == "ValueError" and outcome.failure.evalue == "boom 3"
    assert _stdout(outcome.notebook_json) == ["before\n"]
