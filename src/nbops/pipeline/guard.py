"""Continuous-training guard rails and history, kept under ``<home>/ct/`` (MLflow has no place
for a lock or a decision log that must exist before a run does).

=============================  ==================================================================
file                           holds
=============================  ==================================================================
``<home>/ct/<model>.lock``     an exclusive ``fcntl`` lock while a gate or retrain of the model
                               runs; its text names the holder (pid, what, start time)
``<home>/ct/history.jsonl``    one JSON line per decision (:data:`DECISIONS`)
=============================  ==================================================================

Rules, checked before any work starts:

* **one in flight**: a second gate or retrain of the same model fails at once, naming the holder;
* **cool-down**: no promotion within ``cooldown`` seconds (default 1 h) of the last one;
* **daily cap**: at most ``max_per_day`` promotions (default 3) in any 24 hours.

Every function takes a ``clock`` (seconds since the epoch) so that time can be controlled.

Example:
    >>> from nbops.pipeline import guard
    >>> with guard.in_flight("churn", "retrain"):      # doctest: +SKIP
    ...     ...                                         # train and register a challenger
    >>> guard.history("churn")[-1]["decision"]          # doctest: +SKIP
    'promoted'
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbops.exceptions import GuardRailError

__all__ = [
    "DECISIONS",
    "DEFAULT_COOLDOWN",
    "DEFAULT_MAX_PER_DAY",
    "check_promotion",
    "ct_dir",
    "duration",
    "history",
    "in_flight",
    "record",
]

DECISIONS = ("promoted", "rejected", "passed", "dry-run", "refused", "retrain")
DEFAULT_COOLDOWN = 3600.0
DEFAULT_MAX_PER_DAY = 3
_DAY = 86400.0
Clock = Callable[[], float]


def ct_dir(home: Path | None = None, *, create: bool = True) -> Path:
    """``<home>/ct`` for the settings in force unless ``home`` is given (created unless
    ``create=False``)."""
    if home is None:
        from nbops.config import load_settings

        home = load_settings().home
    folder = Path(home) / "ct"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _lock_name(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", model) + ".lock"


@contextmanager
def in_flight(model: str, what: str = "gate", *, home: Path | None = None,
              clock: Clock = time.time) -> Iterator[None]:
    """Hold the model's lock for the block; :class:`GuardRailError` at once if another process
    (or another block of this one) holds it."""
    path = ct_dir(home) / _lock_name(model)
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _holder(fh.read())
            raise GuardRailError(
                f"A {holder.get('what', 'gate')} of {model!r} is already in flight (pid "
                f"{holder.get('pid', '?')}, started {holder.get('started', '?')}); one at a time "
                f"per model. Wait for it to end, or stop that process if it is stuck "
                f"(lock file {path}).") from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "what": what,
                                 "started": _when(clock())}))
            fh.flush()
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _holder(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def record(entry: dict[str, Any], *, home: Path | None = None, clock: Clock = time.time
           ) -> dict[str, Any]:
    """Append one decision (``model``, ``decision`` and what else describes it) to the history;
    return the line written."""
    line = {"at": clock(), "time": _when(clock()), "pid": os.getpid(), **entry}
    with open(ct_dir(home) / "history.jsonl", "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps(line, default=str) + "\n")
    return line


def history(model: str | None = None, *, home: Path | None = None) -> list[dict[str, Any]]:
    """The recorded decisions, oldest first (only ``model``'s when given)."""
    try:
        lines = (ct_dir(home, create=False) / "history.jsonl").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash; the others still count
    return [r for r in rows if model is None or r.get("model") == model]


def check_promotion(model: str, *, cooldown: float = DEFAULT_COOLDOWN,
                    max_per_day: int = DEFAULT_MAX_PER_DAY, home: Path | None = None,
                    clock: Clock = time.time) -> None:
    """:class:`GuardRailError` when promoting ``model`` now would break the cool-down or the
    daily cap; nothing otherwise."""
    now = clock()
    promoted = [r["at"] for r in history(model, home=home) if r.get("decision") == "promoted"]
    if promoted and now - promoted[-1] < cooldown:
        left = cooldown - (now - promoted[-1])
        raise GuardRailError(
            f"{model!r} was promoted at {_when(promoted[-1])}; the cool-down of "
            f"{duration(cooldown)} leaves {duration(left)} before the next promotion. Run the "
            "gate with dry_run=True (--dry-run) to evaluate now, or lower the cool-down.")
    recent = [t for t in promoted if now - t < _DAY]
    if len(recent) >= max_per_day:
        raise GuardRailError(
            f"{model!r} was promoted {len(recent)} times in the last 24 hours, the daily cap "
            f"({max_per_day}); the next promotion is allowed after "
            f"{_when(recent[-max_per_day] + _DAY)}. Run the gate with dry_run=True "
            "(--dry-run) to evaluate now, or raise the cap.")


def duration(seconds: float) -> str:
    """``1 h 05 min``, ``4 min 10 s`` or ``12 s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
