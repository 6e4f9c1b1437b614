"""``pipeline.yaml`` → a validated :class:`Pipeline` (a DAG of notebook steps).

A spec, every key but ``steps`` and ``notebook`` optional::

    name: demo                    # default: the file's stem
    experiment: demo              # MLflow experiment of the pipeline run (default: name)
    params:                       # pipeline params, overridable with `nbops run -p n_rows=500`
      n_rows: 2000
    steps:
      generate:
        notebook: generate_data.ipynb            # relative to this file
        parameters: {n_rows: "{{ params.n_rows }}", out_path: data/train.csv}
        outputs: [train_path]                    # names the notebook records with nbops.output()
      train:
        notebook: train.ipynb
        parameters: {data_path: "{{ steps.generate.outputs.train_path }}"}   # implies depends_on
        inputs: [data/extra.csv]                 # files/folders whose content joins the cache key
        depends_on: [generate]                   # only needed when no reference implies it
        retries: 2                               # extra attempts after a failure (backoff doubles)
        retry_delay: 1.0                         # seconds before the first retry
        timeout: 600                             # seconds for the whole step; then it is killed
        kernel: python3                          # default: the notebook's kernelspec
    trigger:                      # run (from a schedule) only when monitoring says so
      monitor: churn@champion     # the model version whose `nbops.monitor.status` is read
      status: [drift, warning]    # statuses that start a run (default: [drift])
      cooldown: 3600              # seconds after the model's last retrain or promotion

Errors name the file, the line and the key (``pipeline.yaml:12: steps.train.retries: ...``).
Parameters a notebook's ``parameters`` cell does not define are warnings
(:attr:`Pipeline.warnings`), as papermill would still inject them.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import NotFoundError, PipelineError, closest

__all__ = [
    "TRIGGER_PARAMS",
    "TRIGGER_STATUSES",
    "Pipeline",
    "Step",
    "TEMPLATE",
    "Trigger",
    "declared_parameters",
    "load_pipeline",
    "notebook_pipeline",
    "parse_trigger",
    "references",
    "render",
]

TOP_KEYS = ("name", "experiment", "description", "params", "steps", "trigger")
TRIGGER_KEYS = ("monitor", "status", "cooldown")
#: the monitoring statuses a trigger may wait for (``nbops.monitor.status`` values)
TRIGGER_STATUSES = ("ok", "warning", "drift", "error")
#: what a triggered run passes to the pipeline params (or notebook parameters) that declare them
TRIGGER_PARAMS = ("window_start", "window_end", "trigger_reason", "monitor_run")
STEP_KEYS = ("notebook", "parameters", "depends_on", "inputs", "outputs", "retries",
             "retry_delay", "timeout", "kernel", "description")
#: A template: ``{{ steps.<step>.outputs.<name> }}`` or ``{{ params.<name> }}``.
TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class Step:
    """One notebook step of a pipeline (see the module docstring for the keys)."""

    name: str
    notebook: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    kernel: str = "python3"
    line: int = 0


@dataclass(frozen=True)
class Trigger:
    """Run only when the monitoring status of ``monitor`` (``NAME@ALIAS``) is one of
    ``status``, and not within ``cooldown`` seconds of the model's last retrain or promotion."""

    monitor: str
    status: tuple[str, ...] = ("drift",)
    cooldown: float = 3600.0

    @property
    def model(self) -> str:
        return self.monitor.split("@", 1)[0]


def parse_trigger(value: Any) -> Trigger:
    """A :class:`Trigger` from its mapping (``{"monitor": "churn@champion", "status": [...],
    "cooldown": 600}``); ``ValueError`` naming the key and what to write otherwise."""
    if isinstance(value, Trigger):
        return value
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping such as {monitor: churn@champion, status: [drift]}")
    unknown = [k for k in value if k not in TRIGGER_KEYS]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}.{closest(str(unknown[0]), TRIGGER_KEYS)} "
                         f"Known keys: {', '.join(TRIGGER_KEYS)}.")
    monitor = value.get("monitor")
    if not isinstance(monitor, str) or monitor.count("@") != 1 or monitor.startswith("@") \
            or monitor.endswith("@"):
        raise ValueError(f"monitor must name a model alias as NAME@ALIAS (churn@champion), "
                         f"got {monitor!r}")
    statuses = value.get("status", ["drift"])
    statuses = [statuses] if isinstance(statuses, str) else statuses
    if not isinstance(statuses, list | tuple) or not statuses:
        raise ValueError(f"status must be a list of monitoring statuses, got {statuses!r}")
    for status in statuses:
        if status not in TRIGGER_STATUSES:
            raise ValueError(f"status {status!r} is not a monitoring status."
                             f"{closest(str(status), TRIGGER_STATUSES)} Allowed: "
                             f"{', '.join(TRIGGER_STATUSES)}.")
    cooldown = value.get("cooldown", 3600.0)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int | float) or cooldown < 0:
        raise ValueError(f"cooldown must be 0 or more seconds, got {cooldown!r}")
    return Trigger(monitor, tuple(statuses), float(cooldown))


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline: steps in a topological order (ties keep the file's order)."""

    path: Path
    name: str
    experiment: str
    params: dict[str, Any]
    steps: dict[str, Step]
    warnings: tuple[str, ...] = ()
    trigger: Trigger | None = None

    @property
    def root(self) -> Path:
        """The folder of the spec; relative paths in it are relative to this folder."""
        return self.path.parent

    def downstream(self, name: str) -> list[str]:
        """Every step that depends, directly or not, on ``name`` (in topological order)."""
        found = {name}
        for step in self.steps.values():
            if found.intersection(step.depends_on):
                found.add(step.name)
        return [s for s in self.steps if s in found and s != name]

    def upstream(self, name: str) -> list[str]:
        """Every step ``name`` depends on, directly or not (in topological order)."""
        found: set[str] = set()
        todo = [name]
        while todo:
            for dep in self.steps[todo.pop()].depends_on:
                if dep not in found:
                    found.add(dep)
                    todo.append(dep)
        return [s for s in self.steps if s in found]


# -- templates ------------------------------------------------------------------------------------


def references(value: Any) -> Iterator[str]:
    """The template expressions (``steps.x.outputs.y``, ``params.z``) found in ``value``."""
    if isinstance(value, str):
        for match in TEMPLATE.finditer(value):
            yield match.group(1)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from references(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from references(v)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Substitute templates in ``value`` from ``context`` (``{"params": ..., "steps": ...}``).

    A string that is exactly one template takes the referenced value with its type; templates
    inside longer strings are replaced by their text.

    >>> render("{{ params.n }}", {"params": {"n": 3}})
    3
    >>> render("rows-{{ params.n }}.csv", {"params": {"n": 3}})
    'rows-3.csv'
    """
    if isinstance(value, str):
        whole = TEMPLATE.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1), context)
        return TEMPLATE.sub(lambda m: _text(_lookup(m.group(1), context)), value)
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render(v, context) for v in value]
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _lookup(expr: str, context: Mapping[str, Any]) -> Any:
    parts = expr.split(".")
    if parts[0] == "params" and len(parts) == 2:
        return context["params"][parts[1]]
    if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
        return context["steps"][parts[1]]["outputs"][parts[3]]
    raise PipelineError(f"cannot resolve template {{{{ {expr} }}}}")


# -- loading --------------------------------------------------------------------------------------


class _Doc:
    """YAML values plus the line of every key path, read from ``yaml.compose`` nodes."""

    def __init__(self, path: Path, text: str) -> None:
        import yaml

        self.path = path
        self.lines: dict[tuple[str, ...], int] = {}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise PipelineError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}). "
                                "Fix the syntax and run again.") from None
        self.value = self._convert(node, ()) if node is not None else None

    def _convert(self, node: Any, key_path: tuple[str, ...]) -> Any:
        import yaml

        self.lines.setdefault(key_path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                self.lines[(*key_path, key)] = key_node.start_mark.line + 1
                if key in out:
                    raise self.error((*key_path, key), "is defined twice; keep one")
                out[key] = self._convert(value_node, (*key_path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(v, (*key_path, str(i))) for i, v in enumerate(node.value)]
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)

    def line(self, key_path: tuple[str, ...]) -> int:
        while key_path and key_path not in self.lines:
            key_path = key_path[:-1]
        return self.lines.get(key_path, 1)

    def error(self, key_path: tuple[str, ...], message: str) -> PipelineError:
        key = ".".join(key_path) or "(top level)"
        return PipelineError(f"{self.path}:{self.line(key_path)}: {key}: {message}")


def load_pipeline(path: str | Path, check_kernels: bool = True) -> Pipeline:
    """Read and validate a ``pipeline.yaml``.

    >>> pipeline = load_pipeline("example_notebooks/pipeline.yaml")   # doctest: +SKIP
    >>> list(pipeline.steps)                                            # doctest: +SKIP
    ['generate', 'train']

    Raises :class:`~nbops.exceptions.PipelineError` naming the file, line and key of the first
    problem; :class:`~nbops.exceptions.NotFoundError` when the file does not exist.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise NotFoundError(f"Pipeline file {path} does not exist. Pass the path of a "
                            "pipeline.yaml (see docs/pipelines.md for the format).")
    if path.suffix == ".ipynb":
        raise PipelineError(f"{path.name} is a notebook; nbops run takes a pipeline .yaml. Run "
                            "one notebook with papermill (`papermill IN.ipynb OUT.ipynb -p KEY "
                            "VALUE`), or write a one-step pipeline.yaml naming it (see "
                            "docs/pipelines.md); `nbops schedule add` takes a notebook too.")
    doc = _Doc(path, path.read_text(encoding="utf-8"))
    data = doc.value
    if not isinstance(data, dict):
        raise doc.error((), "a pipeline spec is a mapping with a `steps:` key")
    _check_keys(doc, (), data, TOP_KEYS)
    name = _scalar(doc, ("name",), data.get("name", path.stem), str)
    experiment = _scalar(doc, ("experiment",), data.get("experiment", name), str)
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise doc.error(("params",), "must be a mapping of name: default value")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, dict) or not raw_steps:
        raise doc.error(("steps",), "must be a non-empty mapping of step name: step spec")

    warnings: list[str] = []
    steps = {sname: _step(doc, sname, spec, raw_steps, params, warnings, check_kernels)
             for sname, spec in raw_steps.items()}
    order = _topological(doc, steps)
    trigger = None
    if data.get("trigger") is not None:
        try:
            trigger = parse_trigger(data["trigger"])
        except ValueError as exc:
            raise doc.error(("trigger",), str(exc)) from None
    return Pipeline(path=path, name=name, experiment=experiment, params=dict(params),
                    steps={s: steps[s] for s in order}, warnings=tuple(warnings),
                    trigger=trigger)


def notebook_pipeline(notebook: str | Path, params: Mapping[str, Any] | None = None) -> Pipeline:
    """A one-step pipeline running ``notebook`` with ``params`` (used by schedules)."""
    nb = Path(notebook).resolve()
    if not nb.is_file():
        raise NotFoundError(f"Notebook {nb} does not exist.")
    params = dict(params or {})
    step = Step(name=nb.stem, notebook=nb, kernel=_notebook_kernel(nb) or "python3",
                parameters={k: f"{{{{ params.{k} }}}}" for k in params})
    return Pipeline(path=nb, name=nb.stem, experiment=nb.stem, params=params,
                    steps={step.name: step})


def _check_keys(doc: _Doc, at: tuple[str, ...], data: dict, known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            raise doc.error((*at, key), f"unknown key.{closest(key, known)} Known keys: "
                                        f"{', '.join(known)}.")


def _scalar(doc: _Doc, at: tuple[str, ...], value: Any, kind: type | tuple) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise doc.error(at, f"must be a {names}, got {value!r}")
    return value


def _names(doc: _Doc, at: tuple[str, ...], value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise doc.error(at, f"must be a list of names, got {value!r}")
    return tuple(value)


def _step(doc: _Doc, name: str, spec: Any, all_steps: dict, params: dict, warnings: list[str],
          check_kernels: bool) -> Step:
    at = ("steps", name)
    if not _NAME.match(name):
        raise doc.error(at, "step names use letters, digits, _ and - (starting with a letter)")
    if isinstance(spec, str):  # `train: train.ipynb` shorthand
        spec = {"notebook": spec}
    if not isinstance(spec, dict):
        raise doc.error(at, "must be a mapping with at least `notebook:`")
    _check_keys(doc, at, spec, STEP_KEYS)
    if "notebook" not in spec:
        raise doc.error(at, "has no `notebook:`; name the .ipynb this step runs")
    nb_rel = _scalar(doc, (*at, "notebook"), spec["notebook"], str)
    notebook = (doc.path.parent / nb_rel).resolve()
    if not notebook.is_file():
        raise doc.error((*at, "notebook"), f"notebook {nb_rel!r} not found (looked for "
                                           f"{notebook}). Paths are relative to the spec file.")
    parameters = spec.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise doc.error((*at, "parameters"), "must be a mapping of name: value")
    outputs = _names(doc, (*at, "outputs"), spec.get("outputs"))
    inputs = _names(doc, (*at, "inputs"), spec.get("inputs"))
    depends = list(_names(doc, (*at, "depends_on"), spec.get("depends_on")))
    for i, dep in enumerate(depends):
        if dep not in all_steps:
            raise doc.error((*at, "depends_on", str(i)),
                            f"unknown step {dep!r}.{closest(dep, all_steps)}")
    for key, where in (("parameters", parameters), ("inputs", list(inputs))):
        for expr in references(where):
            dep = _check_reference(doc, (*at, key), expr, all_steps, params)
            if dep and dep not in depends:
                depends.append(dep)
    if name in depends:
        raise doc.error((*at, "depends_on"), f"step {name!r} cannot depend on itself")
    retries = _scalar(doc, (*at, "retries"), spec.get("retries", 0), int)
    if retries < 0:
        raise doc.error((*at, "retries"), "must be 0 or more")
    retry_delay = float(_scalar(doc, (*at, "retry_delay"), spec.get("retry_delay", 1.0),
                                (int, float)))
    timeout = spec.get("timeout")
    if timeout is not None:
        timeout = float(_scalar(doc, (*at, "timeout"), timeout, (int, float)))
        if timeout <= 0:
            raise doc.error((*at, "timeout"), "must be a positive number of seconds")
    kernel = spec.get("kernel")
    kernel_at = (*at, "kernel")
    if kernel is None:
        kernel, kernel_at = _notebook_kernel(notebook) or "python3", (*at, "notebook")
    kernel = _scalar(doc, kernel_at, kernel, str)
    if check_kernels:
        _check_kernel(doc, kernel_at, kernel)
    _check_parameters(doc, at, notebook, parameters, warnings)
    return Step(name=name, notebook=notebook, parameters=dict(parameters),
                depends_on=tuple(depends), inputs=inputs, outputs=outputs, retries=retries,
                retry_delay=retry_delay, timeout=timeout, kernel=kernel, line=doc.line(at))


def _check_reference(doc: _Doc, at: tuple[str, ...], expr: str, steps: dict,
                     params: dict) -> str | None:
    parts = expr.split(".")
    if parts[0] == "params" and len(parts) == 2:
        if parts[1] not in params:
            raise doc.error(at, f"{{{{ {expr} }}}}: no pipeline param {parts[1]!r}."
                                f"{closest(parts[1], params)} Declare it under `params:`.")
        return None
    if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
        dep, out = parts[1], parts[3]
        if dep not in steps:
            raise doc.error(at, f"{{{{ {expr} }}}}: unknown step {dep!r}.{closest(dep, steps)}")
        spec = steps[dep] if isinstance(steps[dep], dict) else {}
        declared = spec.get("outputs") or []
        if isinstance(declared, str):
            declared = [declared]
        if out not in declared:
            raise doc.error(at, f"{{{{ {expr} }}}}: step {dep!r} declares no output {out!r}."
                                f"{closest(out, declared)} Add it to steps.{dep}.outputs.")
        return dep
    raise doc.error(at, f"{{{{ {expr} }}}} is not a reference nbops knows; use "
                        "{{ steps.<step>.outputs.<name> }} or {{ params.<name> }}.")


def _notebook_kernel(notebook: Path) -> str | None:
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    return (meta.get("kernelspec") or {}).get("name")


_KERNELS: dict[str, str] | None = None


def _kernel_installed(kernel: str) -> bool:
    """A quick yes: a ``kernels/<name>/kernel.json`` on Jupyter's path, or ipykernel's own
    ``python3`` (what jupyter_client lists, without importing it: ~0.1 s on every run)."""
    from importlib.util import find_spec

    from jupyter_core.paths import jupyter_path

    if kernel == "python3" and find_spec("ipykernel") is not None:
        return True
    return any((Path(d) / kernel / "kernel.json").is_file() for d in jupyter_path("kernels"))


def _check_kernel(doc: _Doc, at: tuple[str, ...], kernel: str) -> None:
    global _KERNELS
    if _KERNELS is None and _kernel_installed(kernel):
        return
    if _KERNELS is None:
        from jupyter_client.kernelspec import KernelSpecManager

        _KERNELS = KernelSpecManager().find_kernel_specs()
    if kernel not in _KERNELS:
        known, _KERNELS = _KERNELS, None  # re-read next time: the user may install it now
        raise doc.error(at, f"kernel {kernel!r} is not installed.{closest(kernel, known)}"
                            " Installed kernels: `jupyter kernelspec list`; install one with "
                            "`python -m ipykernel install --user --name NAME`.")


def _check_parameters(doc: _Doc, at: tuple[str, ...], notebook: Path, parameters: dict,
                      warnings: list[str]) -> None:
    if not parameters:
        return
    try:
        declared = declared_parameters(notebook)
    except Exception as exc:  # noqa: BLE001 - papermill raises many types for a bad notebook
        raise doc.error((*at, "notebook"), f"cannot read {notebook.name}: {exc}") from None
    for key in parameters:
        if key not in declared:
            warnings.append(
                f"{doc.path}:{doc.line((*at, 'parameters', key))}: {'.'.join(at)}.parameters."
                f"{key}: {notebook.name} has no {key!r} in its parameters cell"
                f"{' (none tagged `parameters`)' if not declared else ''}.{closest(key, declared)}"
                " papermill injects it anyway; add it to the cell tagged `parameters`.")


def declared_parameters(notebook: str | Path) -> list[str]:
    """The names the notebook's cell tagged ``parameters`` assigns (what papermill's
    ``inspect_notebook`` reports). A Python notebook is read with :mod:`ast`, so loading a spec
    does not import papermill (and nbformat, jsonschema: seconds); other languages go through
    papermill."""
    path = Path(notebook)
    nb = json.loads(path.read_text(encoding="utf-8"))
    language = ((nb.get("metadata") or {}).get("kernelspec") or {}).get("language", "python")
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"
             and "parameters" in ((c.get("metadata") or {}).get("tags") or [])]
    source = "".join(cells[0].get("source", "")) if cells else ""
    try:
        tree = ast.parse(source) if language == "python" else None
    except SyntaxError:
        tree = None
    if tree is None:
        from papermill import inspect_notebook

        return list(inspect_notebook(str(path)))
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def _topological(doc: _Doc, steps: dict[str, Step]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise doc.error(("steps", cycle[0]), "the steps form a cycle: "
                            f"{' -> '.join(cycle)}. Remove one of these dependencies.")
        state[name] = 1
        for dep in steps[name].depends_on:
            visit(dep, [*path, name])
        state[name] = 2
        order.append(name)

    for name in steps:
        visit(name, [])
    return order
