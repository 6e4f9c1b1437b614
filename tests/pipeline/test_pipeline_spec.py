"""pipeline.yaml validation: every error names the file, the line and the key."""

from __future__ import annotations

import pytest
from pipeline_support import write_spec  # noqa: F401 - the tests/pipeline conftest

from nbops.exceptions import PipelineError, UsageError
from nbops.pipeline.runner import Plan
from nbops.pipeline.spec import load_pipeline, render

GOOD = """
name: demo
params:
  n: 3
steps:
  produce:
    notebook: produce.ipynb
    parameters: {n: "{{ params.n }}", out_path: numbers.txt}
    outputs: [data_path, total]
  consume:
    notebook: consume.ipynb
    parameters:
      data_path: "{{ steps.produce.outputs.data_path }}"
      total: "{{ steps.produce.outputs.total }}"
"""


def _error(nbdir, text: str) -> str:
    path = write_spec(nbdir, text)
    with pytest.raises(PipelineError) as info:
        load_pipeline(path)
    return str(info.value)


def test_valid_spec_infers_dependencies_and_order(nbdir):
    pipeline = load_pipeline(write_spec(nbdir, GOOD))
    assert list(pipeline.steps) == ["produce", "consume"]
    assert pipeline.steps["consume"].depends_on == ("produce",)
    assert pipeline.steps["produce"].notebook == nbdir / "produce.ipynb"
    assert pipeline.steps["consume"].kernel == "python3"
    assert pipeline.warnings == ()
    assert pipeline.downstream("produce") == ["consume"]


def test_unknown_key_names_file_line_key_and_closest(nbdir):
    msg = _error(nbdir, GOOD.replace("    outputs: [data_path, total]",
                                     "    outputs: [data_path, total]\n    retires: 2"))
    assert "pipeline.yaml:9: steps.produce.retires: unknown key" in msg
    assert "Did you mean 'retries'" in msg


def test_cycle_names_the_steps(nbdir):
    msg = _error(nbdir, """
        steps:
          a: {notebook: produce.ipynb, depends_on: [c]}
          b: {notebook: produce.ipynb, depends_on: [a]}
          c: {notebook: produce.ipynb, depends_on: [b]}
        """)
    assert "cycle" in msg and "a -> c -> b -> a" in msg
    assert "pipeline.yaml:2: steps.a" in msg


def test_unknown_step_reference(nbdir):
    msg = _error(nbdir, GOOD.replace("steps.produce.outputs.total", "steps.prodce.outputs.total"))
    assert "pipeline.yaml:11: steps.consume.parameters" in msg
    assert "unknown step 'prodce'" in msg and "Did you mean 'produce'" in msg
    msg = _error(nbdir, GOOD.replace("steps.produce.outputs.total", "steps.produce.outputs.tot"))
    assert "declares no output 'tot'" in msg
    msg = _error(nbdir, GOOD.replace("params.n", "params.m"))
    assert "no pipeline param 'm'" in msg


def test_unknown_depends_on(nbdir):
    msg = _error(nbdir, """
        steps:
          a: {notebook: produce.ipynb}
          b:
            notebook: produce.ipynb
            depends_on: [aa]
        """)
    assert "pipeline.yaml:5: steps.b.depends_on.0: unknown step 'aa'" in msg


def test_missing_notebook(nbdir):
    msg = _error(nbdir, GOOD.replace("notebook: consume.ipynb", "notebook: nope.ipynb"))
    assert "pipeline.yaml:10: steps.consume.notebook: notebook 'nope.ipynb' not found" in msg


def test_kernel_not_installed(nbdir):
    msg = _error(nbdir, GOOD.replace("    outputs: [data_path, total]",
                                     "    outputs: [data_path, total]\n    kernel: pyton3"))
    assert "pipeline.yaml:9: steps.produce.kernel: kernel 'pyton3' is not installed" in msg
    assert "Did you mean 'python3'" in msg


def test_bad_values_and_yaml(nbdir):
    assert "steps.produce.retries: must be a int" in _error(
        nbdir, GOOD.replace("    outputs: [data_path, total]",
                            "    outputs: [data_path, total]\n    retries: many"))
    assert "pipeline.yaml:4: not valid YAML" in _error(nbdir, "steps:\n  a: [\n  b: c\n")


def test_parameter_missing_from_parameters_cell_is_a_warning(nbdir):
    pipeline = load_pipeline(write_spec(nbdir, GOOD.replace(
        "out_path: numbers.txt}", "out_path: numbers.txt, nn: 1}")))
    assert len(pipeline.warnings) == 1
    assert "pipeline.yaml:7: steps.produce.parameters.nn" in pipeline.warnings[0]
    assert "no 'nn' in its parameters cell" in pipeline.warnings[0]


def test_params_and_selection_are_checked(nbdir):
    pipeline = load_pipeline(write_spec(nbdir, GOOD))
    with pytest.raises(UsageError, match="unknown pipeline param 'nn'.*Did you mean 'n'"):
        Plan(pipeline, {"nn": 1}, None, None)
    with pytest.raises(UsageError, match="unknown step 'consum'"):
        Plan(pipeline, None, "consum", None)
    assert Plan(pipeline, {"n": 5}, None, "produce").selected == {"produce", "consume"}
    assert Plan(pipeline, {"n": 5}, None, None).params == {"n": 5}


def test_render_keeps_types_for_whole_templates():
    ctx = {"params": {"n": 3}, "steps": {"a": {"outputs": {"p": [1, 2]}}}}
    assert render({"x": "{{ params.n }}", "y": "f-{{ params.n }}",
                   "z": ["{{ steps.a.outputs.p }}"]}, ctx) == {"x": 3, "y": "f-3", "z": [[1, 2]]}


def test_declared_parameters_match_papermill_without_importing_it(nbdir):
    import json
    import subprocess
    import sys

    import papermill

    from nbops.pipeline.spec import declared_parameters

    typed = json.loads((nbdir / "produce.ipynb").read_text())
    typed["cells"][0]["source"] = "n: int = 3\nout_path = 'numbers.txt'  # where\nimport os\n"
    (nbdir / "typed.ipynb").write_text(json.dumps(typed))
    for notebook in sorted(nbdir.glob("*.ipynb")):
        assert declared_parameters(notebook) == list(papermill.inspect_notebook(str(notebook)))

    code = ("import sys; from nbops.pipeline.spec import load_pipeline; "
            f"load_pipeline({str(nbdir / 'p.yaml')!r}); "
            "print(sorted(m for m in ('papermill', 'nbformat', 'jsonschema') if m in sys.modules))")
    (nbdir / "p.yaml").write_text("steps:\n  a: {notebook: produce.ipynb, parameters: {n: 2}}\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"
