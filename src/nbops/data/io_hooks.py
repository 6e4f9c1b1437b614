"""Data I/O hooks: see which files a block of code reads and writes (lineage edges).

While a :func:`capture_io` block runs, these functions are wrapped, for the libraries that are
already imported when the block starts (nothing is imported on your behalf):

=======  ==================================================================================
pandas   ``read_csv read_parquet read_json read_feather read_pickle read_excel``;
         ``DataFrame.to_csv/.to_parquet/.to_json/.to_feather/.to_pickle/.to_excel`` and
         ``Series.to_csv/.to_json/.to_pickle/.to_excel``
numpy    ``load save savez savez_compressed``
torch    ``load save``
=======  ==================================================================================

After each *successful* call whose file argument is path-like (``str`` or ``os.PathLike``) the
callback receives an :class:`IOEvent`. Local paths are made absolute and carry a
``fingerprint_fn``; URLs (``s3://...``, ``https://...``) are reported with
``fingerprint_fn=None`` (an unhashed edge); open file objects and in-memory buffers are not
reported (they have no identity to record). Events are emitted after the call returns, so a
written file is complete when it is fingerprinted.

Rules:

* The wrappers exist only while at least one block is active; the last block to exit puts the
  original function objects back, also when the block raises. A reference count and a lock make
  nested and concurrent blocks safe; the hooks are process-wide, so every active block also
  receives the events of calls made by other threads while it is active.
* ``capture_io(..., enabled=False)`` or the environment variable ``NBOPS_NO_IO_HOOKS=1`` turns
  the hooks off: the block runs with nothing wrapped.
* A hook never breaks your call: your own exceptions propagate unchanged (and produce no event),
  and a failure inside nbops' bookkeeping or the callback is swallowed with one warning.
* Calls made from inside a hooked call (a library calling another hooked function) and from the
  callback itself are not reported again.
* Names bound before the block (``from pandas import read_csv``) keep the original function and
  are not seen. A library imported during the block is hooked when the next block starts.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

from nbops.data._hashing import DEFAULT_ALGORITHM, check_algorithm
from nbops.data.fingerprint import Fingerprint, fingerprint
from nbops.exceptions import UsageError

__all__ = ["HOOKED_FUNCTIONS", "IOCapture", "IOEvent", "capture_io", "suspended"]

Direction = Literal["input", "output"]

#: Environment variable that switches the hooks off when set to 1/true/yes/on.
OFF_SWITCH: Final = "NBOPS_NO_IO_HOOKS"


@dataclass(frozen=True)
class IOEvent:
    """One file read or written during a :func:`capture_io` block.

    Attributes:
        direction: ``"input"`` (read) or ``"output"`` (written).
        path: absolute local path, or the URL exactly as given.
        library: ``"pandas"``, ``"numpy"`` or ``"torch"``.
        function: the hooked function, e.g. ``"read_csv"`` or ``"DataFrame.to_parquet"``.
        fingerprint_fn: computes the file's :class:`Fingerprint` when called; ``None`` for URLs.
            Call it inside the callback to capture an input exactly as it was read.
    """

    direction: Direction
    path: str
    library: str
    function: str
    fingerprint_fn: Callable[[], Fingerprint] | None = None

    def fingerprint(self) -> Fingerprint | None:
        """The file's fingerprint, or ``None`` when it cannot be hashed (a URL)."""
        return self.fingerprint_fn() if self.fingerprint_fn is not None else None


@dataclass(frozen=True)
class IOCapture:
    """What a :func:`capture_io` block hooked: ``enabled`` and the ``hooked`` function names."""

    enabled: bool
    hooked: tuple[str, ...]


@dataclass(frozen=True)
class _Target:
    library: str
    owner: str  # "" for a module attribute, else a class name in the module
    name: str
    direction: Direction
    position: int  # positional index of the file argument (self counts for methods)
    keyword: str
    suffix: str = ""  # numpy appends .npy/.npz to a name that lacks it

    @property
    def qualname(self) -> str:
        return f"{self.owner}.{self.name}" if self.owner else self.name


def _targets() -> tuple[_Target, ...]:
    reads = {
        "read_csv": "filepath_or_buffer",
        "read_parquet": "path",
        "read_json": "path_or_buf",
        "read_feather": "path",
        "read_pickle": "filepath_or_buffer",
        "read_excel": "io",
    }
    writes = {
        "to_csv": "path_or_buf",
        "to_parquet": "path",
        "to_json": "path_or_buf",
        "to_feather": "path",
        "to_pickle": "path",
        "to_excel": "excel_writer",
    }
    out = [_Target("pandas", "", n, "input", 0, kw) for n, kw in reads.items()]
    out += [_Target("pandas", "DataFrame", n, "output", 1, kw) for n, kw in writes.items()]
    out += [
        _Target("pandas", "Series", n, "output", 1, writes[n])
        for n in ("to_csv", "to_json", "to_pickle", "to_excel")
    ]
    out += [
        _Target("numpy", "", "load", "input", 0, "file"),
        _Target("numpy", "", "save", "output", 0, "file", ".npy"),
        _Target("numpy", "", "savez", "output", 0, "file", ".npz"),
        _Target("numpy", "", "savez_compressed", "output", 0, "file", ".npz"),
        _Target("torch", "", "load", "input", 0, "f"),
        _Target("torch", "", "save", "output", 1, "f"),
    ]
    return tuple(out)


#: Every function :func:`capture_io` can hook, as ``library.function``.
HOOKED_FUNCTIONS: Final = tuple(f"{t.library}.{t.qualname}" for t in _targets())

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")


class _Subscriber:
    __slots__ = ("algorithm", "on_event", "warned")

    def __init__(self, on_event: Callable[[IOEvent], object], algorithm: str) -> None:
        self.on_event = on_event
        self.algorithm = algorithm
        self.warned = False


class _Local(threading.local):
    busy = False  # this thread is inside a hooked call (or its callback)


class _Hooks:
    """Process-wide hook state: installed wrappers, active subscribers, a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: tuple[_Subscriber, ...] = ()  # replaced, never mutated: read lock-free
        self.installed: list[tuple[Any, str, Any, Any, bool, str]] = []
        self.local = _Local()
        # qualname -> (original, wrapper): re-installing reuses the wrapper made for the same
        # original (a tracked cell installs and removes them all; making them costs ~0.5 ms)
        self.made: dict[str, tuple[Any, Any]] = {}
        self.last_installed: list[tuple[Any, str, Any, Any, bool, str]] = []
        self.modules_seen = 0  # len(sys.modules) when the hooks were last looked up

    # -- install / uninstall (callers hold the lock) --------------------------------------

    def install_missing(self) -> None:
        plan = self.last_installed
        if not self.installed and plan and self.modules_seen == len(sys.modules) and all(
                vars(owner).get(name) is original if own else getattr(owner, name, None) is original
                for owner, name, original, _, own, _ in plan):
            # Nothing imported since the last block and nothing patched over: the same hooks.
            for owner, name, _, wrapper, _, _ in plan:
                setattr(owner, name, wrapper)
            self.installed.extend(plan)
            return
        self.modules_seen = len(sys.modules)
        self._install_new()
        self.last_installed = list(self.installed)

    def _install_new(self) -> None:
        done = {qual for *_, qual in self.installed}
        for target in _targets():
            qual = f"{target.library}.{target.qualname}"
            module = sys.modules.get(target.library)
            if module is None or qual in done or not _imported(module):
                continue  # a module another thread is still importing: a later block hooks it
            owner = getattr(module, target.owner, None) if target.owner else module
            original = getattr(owner, target.name, None) if owner is not None else None
            if original is None:
                continue
            own = target.name in vars(owner)
            made = self.made.get(qual)
            if made is None or made[0] is not original:
                made = self.made[qual] = (original, self.wrap(target, original))
            wrapper = made[1]
            setattr(owner, target.name, wrapper)
            self.installed.append((owner, target.name, original, wrapper, own, qual))

    def uninstall(self) -> None:
        for owner, name, original, wrapper, own, _ in reversed(self.installed):
            if vars(owner).get(name) is not wrapper:
                continue  # someone patched over us; our wrapper now just passes calls through
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self.installed.clear()

    # -- the wrapper ----------------------------------------------------------------------

    def wrap(self, target: _Target, original: Callable[..., Any]) -> Callable[..., Any]:
        hooks, local = self, self.local

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not hooks.subscribers or local.busy:
                return original(*args, **kwargs)
            local.busy = True
            try:
                result = original(*args, **kwargs)
                hooks.emit(target, args, kwargs)
            finally:
                local.busy = False
            return result

        return wrapper

    def emit(self, target: _Target, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        subscribers = self.subscribers
        try:
            located = _locate(target, args, kwargs)
        except Exception as exc:  # bookkeeping must never break the user's call
            for sub in subscribers:
                _warn_once(sub, target, exc)
            return
        if located is None:
            return
        path, local_file = located
        for sub in subscribers:
            fp = functools.partial(fingerprint, path, algorithm=sub.algorithm)
            event = IOEvent(
                target.direction, path, target.library, target.qualname, fp if local_file else None
            )
            try:
                sub.on_event(event)
            except Exception as exc:
                _warn_once(sub, target, exc)


_HOOKS = _Hooks()


#: How long a block waits for another thread (nbops' own worker importing MLflow, which
#: imports pandas) to finish importing a library before it gives up hooking it.
IMPORT_WAIT = 3.0


def _imported(module: Any, wait: float = IMPORT_WAIT) -> bool:
    """True once ``module`` is fully imported, waiting (bounded) while another thread imports
    it: patching a module mid-import races the import and breaks the user's next use of it."""
    import time

    spec = getattr(module, "__spec__", None)
    deadline = time.monotonic() + wait
    while getattr(spec, "_initializing", False):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


@contextmanager
def suspended() -> Iterator[None]:
    """Calls made in this block (on this thread) are never reported: nbops' own reads and
    writes (staged artifacts, monitoring references) are not lineage events."""
    local = _HOOKS.local
    previous, local.busy = local.busy, True
    try:
        yield
    finally:
        local.busy = previous


def _locate(
    target: _Target, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str, bool] | None:
    """``(path, is_local_file)`` for the call's file argument, or ``None`` for a buffer."""
    raw = args[target.position] if len(args) > target.position else kwargs.get(target.keyword)
    if isinstance(raw, os.PathLike):
        raw = os.fspath(raw)
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not isinstance(raw, str):
        return None
    if _URL.match(raw):
        return raw, False
    path = os.path.abspath(os.path.expanduser(raw))
    if target.suffix and not path.endswith(target.suffix):
        path += target.suffix
    return path, True


def _warn_once(sub: _Subscriber, target: _Target, exc: BaseException) -> None:
    if sub.warned:
        return
    sub.warned = True
    warnings.warn(
        f"nbops could not record a data I/O event for {target.library}.{target.qualname} "
        f"({type(exc).__name__}: {exc}); lineage for this and later calls in this block may be "
        "incomplete. Your call itself was not affected. Set NBOPS_NO_IO_HOOKS=1 to turn the "
        "hooks off.",
        RuntimeWarning,
        stacklevel=4,
    )


def _disabled_by_env() -> bool:
    from nbops.config import io_hooks_off

    return io_hooks_off()


@contextmanager
def capture_io(
    on_event: Callable[[IOEvent], object],
    *,
    enabled: bool | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
) -> Iterator[IOCapture]:
    """Report the files read and written by pandas, numpy and torch while the block runs.

    Args:
        on_event: called with an :class:`IOEvent` after each successful hooked call, from the
            thread that made the call.
        enabled: ``False`` hooks nothing; ``None`` (default) hooks unless ``NBOPS_NO_IO_HOOKS=1``.
        algorithm: the algorithm ``IOEvent.fingerprint_fn`` uses.

    Example::

        >>> import pandas as pd
        >>> events = []
        >>> with capture_io(events.append):
        ...     pd.DataFrame({"x": [1]}).to_csv("x.csv", index=False)
        ...     _ = pd.read_csv("x.csv")
        >>> [(e.direction, e.function) for e in events]
        [('output', 'DataFrame.to_csv'), ('input', 'read_csv')]
    """
    if not callable(on_event):
        raise UsageError(
            f"capture_io() needs a callable on_event, got {type(on_event).__name__}; pass e.g. "
            "`events.append`."
        )
    check_algorithm(algorithm)
    if enabled is None:
        enabled = not _disabled_by_env()
    if not enabled:
        yield IOCapture(False, ())
        return
    hooks = _HOOKS
    sub = _Subscriber(on_event, algorithm)
    with hooks.lock:
        try:
            hooks.install_missing()
        except Exception as exc:  # noqa: BLE001 - hooking must never break the block
            warnings.warn(f"nbops could not hook data I/O functions ({type(exc).__name__}: "
                          f"{exc}); file lineage of this block may be incomplete.",
                          RuntimeWarning, stacklevel=3)
        hooks.subscribers = (*hooks.subscribers, sub)
        hooked = tuple(qual for *_, qual in hooks.installed)
    try:
        yield IOCapture(True, hooked)
    finally:
        with hooks.lock:
            hooks.subscribers = tuple(s for s in hooks.subscribers if s is not sub)
            if not hooks.subscribers:
                hooks.uninstall()
