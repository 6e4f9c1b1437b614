"""What a run captures besides what the user logs: params from code, git, environment, notebook.

Cheap parts (parsing the cell) run on the caller's thread; anything that touches a subprocess
or the disk (git, package list, notebook files) runs in the logger's worker thread.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbops.config import environment_variables as process_environment
from nbops.config import kernel_context
from nbops.store import tags as T
from nbops.tracking.redact import Redactor

__all__ = [
    "GitState",
    "environment_info",
    "find_notebook_path",
    "git_state",
    "history_notebook",
    "literal_params",
    "used_values",
    "package_list",
]

GIT_TIMEOUT = 5.0
MAX_LITERAL_ITEMS = 50

# -- params from code ---------------------------------------------------------------------------


def literal_params(source: str) -> dict[str, Any]:
    """Top-level assignments of literal values in ``source``, last assignment winning.

    Literals are numbers, strings, bools, None and small (≤ 50 items) lists, tuples and dicts
    of literals. ``lr = 0.1`` and ``layers = [64, 32]`` are params; ``n = len(df)`` is not.
    Empty containers (``losses = []``) are accumulators, not params. A source that does not
    parse gives no params (the cell's own SyntaxError is what the user sees).

    >>> literal_params("lr = 0.1\\nepochs: int = 3\\nmodel = make()\\na = b = 'x'")
    {'lr': 0.1, 'epochs': 3, 'a': 'x', 'b': 'x'}
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    params: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if not names or not _small_literal(value):
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        for name in names:
            if not name.startswith("_"):
                params[name] = literal
    return params


def _small_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return 0 < len(node.elts) <= MAX_LITERAL_ITEMS and all(_small_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return 0 < len(node.keys) <= MAX_LITERAL_ITEMS and all(
            k is not None and _small_literal(k) and _small_literal(v)
            for k, v in zip(node.keys, node.values, strict=True)
        )
    return isinstance(node, ast.Constant | ast.UnaryOp)


def used_values(source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Values of scalars the cell reads from earlier cells (e.g. a parameters cell).

    Names the cell loads (and never assigns) that hold a bool, int, float or short string in ``namespace`` when the
    cell starts: ``hidden`` in ``Linear(n_features, hidden)`` is a param with its value.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    nodes = list(ast.walk(tree))
    assigned = {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    out: dict[str, Any] = {}
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            name = node.id
            if name.startswith("_") or name in out or name in assigned or name not in namespace:
                continue
            value = namespace[name]
            if isinstance(value, bool | int | float) or (isinstance(value, str)
                                                        and len(value) <= 250):
                out[name] = value
    return out


def param_value(value: Any) -> str:
    """The string MLflow stores for a param value (JSON for containers, so lists stay lists)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | dict | set):
        try:
            return json.dumps(value if not isinstance(value, set) else sorted(value, key=repr))
        except TypeError:
            return repr(value)
    return repr(value) if not isinstance(value, bool | int | float | type(None)) else str(value)


def cell_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


# -- git ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitState:
    root: str
    commit: str
    branch: str
    dirty: bool
    diff: str
    remote: str | None


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(cwd: Path) -> GitState | None:
    """Commit, branch, dirty flag and ``git diff HEAD`` of the repo holding ``cwd``, or None.

    Two ``git`` processes a run (each costs a fork of the kernel): one ``rev-parse`` for the
    root, commit and branch, one ``diff HEAD``; dirty means that diff is not empty (changes to
    tracked files, staged or not; untracked files do not count)."""
    head = _git(["rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD"], cwd)
    lines = (head or "").split("\n")
    if len(lines) < 3 or not lines[0] or not lines[1]:
        return None  # not a repository, or one with no commit yet
    root_path = Path(lines[0].strip())
    diff = _git(["diff", "HEAD"], root_path) or ""
    return GitState(str(root_path), lines[1].strip(), lines[2].strip(), bool(diff.strip()),
                    diff, _remote(root_path))


@functools.cache
def _remote(root: Path) -> str | None:
    """``remote.origin.url`` of the repository at ``root`` (read once a process)."""
    remote = _git(["config", "--get", "remote.origin.url"], root)
    return remote.strip() if remote else None


#: A module file's real path, by its ``__file__``: resolving the few thousand modules of a
#: kernel at every run end took most of a second of CPU.
_REAL_PATHS: dict[str, str] = {}


def _realpath(path: str) -> str:
    real = _REAL_PATHS.get(path)
    if real is None:
        real = _REAL_PATHS[path] = os.path.realpath(path)
    return real


def imported_module_changes(repo_root: str, modules: dict[str, Any]) -> str:
    """Diffs (tracked) or full text (untracked) of imported modules living inside the repo.

    ``git diff HEAD`` already holds the tracked changes of the whole repo; this adds what a
    reader of the run needs to rerun it: local modules the notebook imported that git does not
    know (``helpers.py`` never committed), so the code that ran is complete.
    """
    root = Path(repo_root)
    inside = os.path.realpath(root) + os.sep
    files = set()
    for mod in list(modules.values()):
        path = getattr(mod, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            continue
        real = _realpath(path)
        if real.startswith(inside):
            p = Path(real)
            if ".venv" not in p.parts and "site-packages" not in p.parts:
                files.add(p)
    if not files:
        return ""
    rel = sorted(str(f.relative_to(root)) for f in files)
    untracked = set((_git(["ls-files", "--others", "--exclude-standard", "--", *rel], root)
                     or "").split())
    parts = []
    diff = _git(["diff", "HEAD", "--", *[r for r in rel if r not in untracked]], root)
    if diff:
        parts.append(diff)
    for r in sorted(untracked):
        text = (root / r).read_text(encoding="utf-8", errors="replace")
        parts.append(f"--- /dev/null\n+++ b/{r}\n(untracked file, full text)\n{text}")
    return "\n".join(parts)


# -- environment --------------------------------------------------------------------------------


def package_list() -> str:
    """``name==version`` of every installed distribution, sorted (pip-freeze-like)."""
    from importlib import metadata

    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "\n".join(seen[k] for k in sorted(seen)) + "\n"


def environment_info() -> dict[str, str]:
    """Python, OS, CPU and (only when torch is already imported) GPU facts, as tags."""
    info = {
        T.ENV_PYTHON: platform.python_version(),
        T.ENV_OS: f"{platform.system()} {platform.release()}",
        T.ENV_MACHINE: platform.machine(),
        T.ENV_CPU_COUNT: str(os.cpu_count()),
        T.ENV_EXECUTABLE: sys.executable,
    }
    cpu = _cpu_model()
    if cpu:
        info[T.ENV_CPU] = cpu
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            info[T.ENV_TORCH] = torch.__version__
            if torch.cuda.is_available():
                info[T.ENV_GPU] = ", ".join(
                    torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
                )
        except Exception:  # noqa: BLE001 - environment capture is best effort
            pass
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment_variables(redactor: Redactor) -> str:
    """The process environment, redacted, one ``NAME=value`` a line."""
    return "".join(f"{k}={redactor.value(k, v)}\n"
                   for k, v in sorted(process_environment().items()))


# -- notebooks ----------------------------------------------------------------------------------


def find_notebook_path(user_ns: dict[str, Any] | None = None) -> Path | None:
    """The path of the running notebook when it can be found, else None (never raises).

    Sources, in order: ``NBOPS_NOTEBOOK_PATH`` (set by ``nbops run`` for pipeline steps),
    VS Code's ``__vsc_ipynb_file__``, papermill's ``PAPERMILL_INPUT_PATH`` (injected with
    ``--inject-paths``), and ``JPY_SESSION_NAME`` (set by jupyter_server for kernels it starts
    for a notebook). Plain papermill and nbconvert tell the kernel nothing: the run's source is
    then the kernel process.
    """
    context = kernel_context()
    candidates = [context.notebook_path]
    if user_ns:
        candidates.append(user_ns.get("__vsc_ipynb_file__"))
        candidates.append(user_ns.get("PAPERMILL_INPUT_PATH"))  # papermill --inject-paths
    candidates.append(context.session_name)
    for c in candidates:
        if c and str(c).endswith(".ipynb"):
            p = Path(c)
            # JPY_SESSION_NAME is relative to the server's root, and the kernel runs in the
            # notebook's folder: try the path as given, then its name in the working directory.
            for option in ((p,) if p.is_absolute() else (Path.cwd() / p, Path.cwd() / p.name)):
                if option.is_file():
                    return option
    return None


def history_notebook(inputs: list[str], outputs: dict[int, Any], redactor: Redactor) -> str:
    """A notebook of the session's cells in execution order, with their results (nbformat 4.5).

    ``inputs`` are the cells as the user typed them (index = execution count), ``outputs``
    IPython's ``Out``. Written as JSON directly: importing nbformat costs seconds (its schema
    validator), and this runs at the end of every tracked cell.
    """
    cells = []
    for count, source in enumerate(inputs):
        if count == 0 or not source.strip():
            continue
        cell_outputs = []
        if count in outputs:
            try:
                text = repr(outputs[count])
            except Exception:  # noqa: BLE001 - a broken __repr__ must not break capture
                text = "<unrepresentable>"
            cell_outputs.append({"output_type": "execute_result", "execution_count": count,
                                 "data": {"text/plain": redactor.text(text[:10_000])},
                                 "metadata": {}})
        cells.append({"cell_type": "code", "id": f"cell-{count}", "execution_count": count,
                      "metadata": {}, "outputs": cell_outputs,
                      "source": redactor.text(source).splitlines(keepends=True)})
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          # No kernelspec: the kernel's name is not known inside it; `nbops reproduce` runs
          # such a notebook with the interpreter that recorded the run.
          "metadata": {"nbops": {"kind": "executed-history"},
                       "language_info": {"name": "python"}}}
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
