"""``%%track`` and ``%nbops``: thin IPython glue over :mod:`nbops.tracking`.

    %load_ext nbops

    %%track [NAME] [-e EXPERIMENT] [--tag K=V]... [--param K=V]... [--metrics a,b]
            [--log-model VAR[=NAME]] [--no-capture code,git,env,figures,notebook,io]

Each execution of a tracked cell is a new MLflow run, the child of this kernel's
notebook-session run. Params, later ones winning: scalars the cell reads from earlier cells
(their values when it starts: a parameters cell, papermill's injected values), the cell's own
top-level literal assignments, then ``--param`` values. ``%%track?`` prints the flags.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import time
import weakref
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from nbops.config import CAPTURE_PARTS
from nbops.store import tags as T
from nbops.tracking import capture
from nbops.tracking.run import Run, Tracker, default_tracker

__all__ = ["NbopsMagics", "load_ipython_extension", "unload_ipython_extension"]


def _key_values(items: list[str], flag: str) -> dict[str, Any]:
    from IPython.core.error import UsageError as IPyUsageError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise IPyUsageError(f"{flag} expects KEY=VALUE, got {item!r}. Example: {flag} lr=0.1")
        try:
            out[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key.strip()] = raw
    return out


def _csv(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def default_run_name(cell: str, count: int) -> str:
    """The text of the cell's first line when it is a comment, else ``cell-<execution count>``.

    >>> default_run_name("# Train the baseline\nlr = 0.1", 3)
    'Train the baseline'
    """
    for line in cell.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#") and not stripped.startswith("#!"):
            text = stripped.lstrip("#").strip()
            if text and text != "Parameters":
                return text[:120]
        break
    return f"cell-{count}"


@magics_class
class NbopsMagics(Magics):
    """The ``%%track`` cell magic and the ``%nbops`` line magic."""

    def __init__(self, shell: Any, tracker: Tracker) -> None:
        super().__init__(shell)
        self.tracker = tracker
        self.cell_id: str | None = None
        # figure -> digest of the PNG last saved of it: a figure left open is saved again only
        # by a cell that changes it
        self.figure_digests: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # -- %%track ---------------------------------------------------------------------------------
    @magic_arguments()
    @argument("name", nargs="?", default=None,
              help="Run name (default: the cell's first comment line, else cell-<n>).")
    @argument("-e", "--experiment", default=None, help="MLflow experiment (default: notebook name).")
    @argument("--tag", action="append", default=[], metavar="K=V", help="Tag the run (repeatable).")
    @argument("--param", action="append", default=[], metavar="K=V",
              help="Log a param (repeatable); overrides values found in the cell.")
    @argument("--metrics", default=None, metavar="a,b",
              help="Variables whose values after the cell are logged as metrics.")
    @argument("--log-model", default=None, metavar="VAR[=NAME]",
              help="After the cell, log and register the torch model in VAR (as NAME).")
    @argument("--no-capture", default=None, metavar="PARTS",  # code,git,env,figures,notebook,io
              help=f"Parts not to capture, comma-separated: {', '.join(CAPTURE_PARTS)}.")
    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """Track this cell's execution as an MLflow run (see ``%%track?``)."""
        __tracebackhide__ = True
        from IPython.core.error import UsageError as IPyUsageError

        try:
            args = parse_argstring(self.track, line)
        except IPyUsageError as exc:
            raise IPyUsageError(f"%%track: {exc}. Run `%%track?` for the flags.") from None
        no_capture = set(_csv(args.no_capture))
        bad = no_capture - set(CAPTURE_PARTS)
        if bad:
            raise IPyUsageError(
                f"%%track --no-capture: unknown part(s) {sorted(bad)}; choose from "
                f"{', '.join(CAPTURE_PARTS)}.")
        tags = _key_values(args.tag, "--tag")
        overrides = _key_values(args.param, "--param")

        shell = self.shell
        count = _current_execution_count(shell)
        try:
            code = self._compile(cell, count)
        except SyntaxError:
            shell.showsyntaxerror()
            raise IPyUsageError("%%track: the cell has a syntax error (shown above); no run was "
                                "started. Fix the cell and run it again.") from None

        python = shell.transform_cell(cell)  # `%env`, `!cmd` lines as Python: params still parse
        params = {**capture.used_values(python, shell.user_ns), **capture.literal_params(python),
                  **overrides}
        notebook = capture.find_notebook_path(shell.user_ns)
        notebook_name = str(notebook) if notebook else None
        session = self.tracker.session_run(args.experiment, notebook_name)
        tags = {T.EXECUTION_COUNT: count, **tags}
        if self.cell_id:
            tags[T.CELL_ID] = self.cell_id
        if notebook:
            tags[T.NOTEBOOK_PATH] = str(notebook)
        run = self.tracker.start_run(
            args.name or default_run_name(cell, count), experiment=session.experiment,
            parent=session, tags=tags, params=params, source=cell, source_name=notebook_name,
            no_capture=no_capture,
        )
        skip = self.tracker.settings.no_capture | no_capture
        figures = None if "figures" in skip else _FigureCapture(shell, run, self.figure_digests)
        warnings: list[str] = []
        try:
            if "io" in skip:
                result = self._execute(code)
            else:
                from nbops.data.io_hooks import capture_io
                from nbops.data.tracked import io_recorder

                with capture_io(io_recorder(run)):
                    result = self._execute(code)
            warnings += _log_variables(run, shell.user_ns, _csv(args.metrics))
            if args.log_model:
                warnings += _log_model_variable(shell.user_ns, args.log_model)
        except KeyboardInterrupt as exc:
            self._end(run, "KILLED", exc, figures, notebook, skip, warnings)
            raise
        except BaseException as exc:
            self._end(run, "FAILED", exc, figures, notebook, skip, warnings)
            raise
        self._end(run, "FINISHED", None, figures, notebook, skip, warnings)
        return result

    def _compile(self, cell: str, count: int) -> tuple[Any, Any]:
        shell = self.shell
        source = shell.transform_cell(cell)
        tree = shell.transform_ast(shell.compile.ast_parse(source))
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        filename = shell.compile.cache(source, count, raw_code=cell)
        body = shell.compile(tree, filename, "exec")
        return body, (shell.compile(last, filename, "eval") if last is not None else None)

    def _execute(self, code: tuple[Any, Any]) -> Any:
        __tracebackhide__ = True
        body, last = code
        ns = self.shell.user_ns
        exec(body, ns)
        return eval(last, ns) if last is not None else None

    def _end(self, run: Run, status: str, error: BaseException | None,
             figures: _FigureCapture | None, notebook: Any, skip: frozenset[str],
             warnings: list[str]) -> None:
        # Nothing here may raise: the user's own exception (if any) must surface unchanged, and
        # the run always ends (a later cell must never become its child).
        try:
            if figures is not None:
                figures.finish()
        except Exception as exc:  # noqa: BLE001 - tracking never breaks the cell
            warnings.append(f"figures not captured: {type(exc).__name__}: {exc}")
        try:
            ns = self.shell.user_ns
            self.tracker.capture_end(run, notebook, _raw_inputs(self.shell),
                                     dict(ns.get("Out", {})), skip)
        except Exception as exc:  # noqa: BLE001
            warnings.append(f"notebook not captured: {type(exc).__name__}: {exc}")
        try:
            run.end(status, error=error if status != "FINISHED" else None)
        except Exception as exc:  # noqa: BLE001
            run.ended = run.ended or time.time()
            self.tracker.discard(run)
            warnings.append(f"run not ended cleanly: {type(exc).__name__}: {exc}")
        try:
            self._show(run, warnings)
        except Exception as exc:  # noqa: BLE001
            print(f"nbops: run {run.name!r} ended; its summary could not be shown: {exc}")

    def _show(self, run: Run, warnings: list[str]) -> None:
        from IPython.display import display

        from nbops.tracking.summary import render_html, render_text

        s = run.summary()
        display({"text/plain": render_text(s, warnings), "text/html": render_html(s, warnings)},
                raw=True)

    # -- %nbops ----------------------------------------------------------------------------------
    @line_magic
    def nbops(self, line: str) -> None:
        """``%nbops status`` (store, spool backlog, session run) or ``%nbops sync`` (replay now)."""
        from IPython.core.error import UsageError as IPyUsageError

        cmd = line.strip() or "status"
        if cmd == "status":
            print(status_text(self.tracker))
        elif cmd == "sync":
            t0 = time.monotonic()
            left = self.tracker.logger.sync_now(timeout=60)
            if left:
                print(f"nbops: {left} event(s) still spooled after {time.monotonic() - t0:.0f}s: "
                      f"{self.tracker.logger.problem or 'store slow'}. Run `%nbops sync` again.")
            else:
                print(f"nbops: everything is in {self.tracker.settings.tracking_uri}.")
        else:
            raise IPyUsageError(f"%nbops {cmd!r}: unknown command; use `%nbops status` or "
                                "`%nbops sync`.")

    # -- events ---------------------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        self.cell_id = getattr(info, "cell_id", None)


def status_text(tracker: Tracker) -> str:
    """The text of ``%nbops status`` (``nbops status`` plus this kernel's session runs)."""
    from nbops.tracking.status import status_text as report

    logger = tracker.logger
    sessions = [f"{run.name} (experiment {exp!r}, run {run.mlflow_run_id or 'pending sync'})"
                for exp, run in tracker.sessions.items()]
    return report(tracker.settings, logger.spool, problem=logger.problem,
                  sessions=sessions or ["none yet (created by the first %%track cell)"])


def _current_execution_count(shell: Any) -> int:
    """The number the user sees as In[n] for the running cell (IPython 9 increments
    ``execution_count`` before the cell runs; ``In`` already holds the cell)."""
    inputs = shell.user_ns.get("In")
    if isinstance(inputs, list) and len(inputs) > 1:
        return len(inputs) - 1
    return shell.execution_count


def _raw_inputs(shell: Any) -> list[str]:
    """The cells exactly as the user typed them (``In`` holds IPython's transformed source)."""
    manager = getattr(shell, "history_manager", None)
    raw = getattr(manager, "input_hist_raw", None)
    if isinstance(raw, list) and raw:
        return list(raw)
    return list(shell.user_ns.get("In", []))


def _log_variables(run: Run, ns: dict[str, Any], names: list[str]) -> list[str]:
    warnings = []
    for name in names:
        if name not in ns:
            warnings.append(f"--metrics: {name!r} is not defined after the cell; not logged")
            continue
        try:
            run.log_metrics({name: ns[name]})
        except Exception as exc:  # noqa: BLE001 - a bad variable must not fail a finished cell
            warnings.append(f"--metrics: {exc}")
    return warnings


def _log_model_variable(ns: dict[str, Any], spec: str) -> list[str]:
    """``--log-model VAR[=NAME]``: log and register the model held by VAR (inside the run)."""
    var, _, name = spec.partition("=")
    if var not in ns:
        return [f"--log-model: {var!r} is not defined after the cell; no model logged"]
    from nbops.workflows.log_model import log_model

    try:
        ref = log_model(ns[var], name or var)
    except Exception as exc:  # noqa: BLE001 - the cell finished; report, don't fail it
        return [f"--log-model: {exc}"]
    print(f"nbops: registered {ref.uri}")
    return []


class _FigureCapture:
    """Save the figures a cell shows (images sent to the frontend) and the figures left open at
    its end that it created or changed (a figure an earlier cell left open, unchanged, is not
    saved again)."""

    def __init__(self, shell: Any, run: Run, digests: weakref.WeakKeyDictionary) -> None:
        self.run = run
        self.digests = digests
        self.count = 0
        self.pub = getattr(shell, "display_pub", None)
        self.hooked = hasattr(self.pub, "register_hook")
        if self.hooked:
            self.pub.register_hook(self._hook)

    def _hook(self, msg: dict) -> dict:
        try:
            data = msg.get("content", {}).get("data", {})
            png = data.get("image/png")
            if png and msg.get("msg_type") == "display_data":
                self.count += 1
                self.run.log_artifact(base64.b64decode(png), f"figures/figure-{self.count}.png")
        except Exception:  # noqa: BLE001 - capture never breaks display
            pass
        return msg

    def finish(self) -> None:
        if self.hooked:
            self.pub.unregister_hook(self._hook)
        import sys

        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        for num in plt.get_fignums():
            fig = plt.figure(num)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=100)
            png = buffer.getvalue()
            digest = hashlib.blake2b(png, digest_size=16).digest()
            if self.digests.get(fig) == digest:
                continue  # left open by an earlier cell, unchanged by this one
            self.digests[fig] = digest
            self.count += 1
            self.run.log_artifact(png, f"figures/figure-{self.count}.png")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbops``: register the magics and start the logger (store warms up in the
    background). Fails fast, with a fix-it message, when the configured store is unusable."""
    tracker = default_tracker()
    magics = NbopsMagics(ipython, tracker)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    logger = tracker.logger  # start the worker now: the store is opened while the user reads
    if tracker.notice:
        print(tracker.notice)
    if logger.problem:
        print(f"nbops: {logger.problem}. Cells run as usual; their runs are kept in the spool "
              "and ship when the store is back (or run `nbops sync`).")


def unload_ipython_extension(ipython: Any) -> None:
    for m in list(ipython.magics_manager.registry.values()):
        if isinstance(m, NbopsMagics):
            ipython.events.unregister("pre_run_cell", m.pre_run_cell)
