"""A two-step pipeline (produce → consume) and a failing one, for the server and browser tests."""

from __future__ import annotations

import shutil
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline"

SPEC = """\
name: numbers
experiment: numbers-ui
params:
  n: 4
steps:
  produce:
    notebook: produce.ipynb
    parameters: {n: "{{ params.n }}", out_path: data/numbers.txt}
    outputs: [data_path, total]
  consume:
    notebook: consume.ipynb
    parameters:
      data_path: "{{ steps.produce.outputs.data_path }}"
      total: "{{ steps.produce.outputs.total }}"
      factor: 3
    outputs: [result]
"""

FAILING = """\
name: broken
experiment: numbers-ui
steps:
  fail:
    notebook: fail.ipynb
"""


def write_pipelines(root: Path) -> tuple[str, str]:
    """``numbers/pipeline.yaml`` and ``broken/pipeline.yaml`` under ``root`` (relative paths)."""
    for folder, spec, notebooks in (("numbers", SPEC, ("produce", "consume")),
                                    ("broken", FAILING, ("fail",))):
        dest = root / folder
        dest.mkdir(parents=True, exist_ok=True)
        for nb in notebooks:
            shutil.copy(NOTEBOOKS / f"{nb}.ipynb", dest / f"{nb}.ipynb")
        (dest / "pipeline.yaml").write_text(spec)
    return "numbers/pipeline.yaml", "broken/pipeline.yaml"
