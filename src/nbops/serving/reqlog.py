"""The request log: every request a server answered, appended before the answer is sent.

Layout under ``<nbops home>/serving/<model name>/``::

    spool/<pid>-<ms>-<n>.jsonl        one JSON line per request, written with os.write before
                                      the response leaves: a killed process (kill -9) loses
                                      nothing it acknowledged; fsync'ed every second
    segments/<pid>-<ms>-<n>.parquet   a sealed spool (every 20,000 records, 60 s, and at stop),
                                      written to a temporary name and renamed, then the spool
                                      is deleted; a spool whose segment exists is skipped
    labels/<pid>-<ms>-<n>.jsonl       labels that arrived later, joined by request id

A record: ``request_id, time (epoch ms), model, version, route (primary / canary / shadow),
status (HTTP), latency_ms, inputs (JSON), outputs (JSON), error``. Readers take sealed
segments and live spools alike, ignoring a torn last line.

Example:
    >>> frame = read_log("churn", since="1h")      # doctest: +SKIP
    >>> frame[["request_id", "version", "route", "prediction", "label"]].head()  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nbops.exceptions import NotFoundError, UsageError

__all__ = ["FIELDS", "LogWriter", "label", "log_dir", "read_log", "read_records"]

FIELDS = ("request_id", "time", "model", "version", "route", "status", "latency_ms", "inputs",
          "outputs", "error")
SEAL_RECORDS = 20_000
SEAL_SECONDS = 60.0
_counter = itertools.count()


def log_dir(model: str, home: Path | None = None) -> Path:
    """Where the request log of model ``model`` lives."""
    if home is None:
        from nbops.config import load_settings

        home = load_settings().home
    return Path(home) / "serving" / model


class LogWriter:
    """Appends records of one process to its own spool and seals spools into Parquet segments.

    ``append`` is one ``os.write`` of one line (thread-safe); a background thread fsyncs each
    second and seals full or old spools off the request path.
    """

    def __init__(self, folder: Path, kind: str = "spool") -> None:
        self.folder = Path(folder)
        self.spool_dir = self.folder / kind
        self.segment_dir = self.folder / ("segments" if kind == "spool" else f"{kind}-segments")
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.segment_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._open()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nbops-request-log", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        stem = f"{os.getpid()}-{int(time.time() * 1000)}-{next(_counter)}"
        self.path = self.spool_dir / f"{stem}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._count = 0
        self._opened = time.monotonic()
        self._dirty = False

    def append(self, record: dict[str, Any]) -> None:
        """Write one record (a dict with :data:`FIELDS`); it is in the log when this returns."""
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            self._count += 1
            self._dirty = True

    def append_many(self, records: list[dict[str, Any]]) -> None:
        """Write several records with one ``os.write``."""
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        with self._lock:
            os.write(self._fd, data)
            self._count += len(records)
            self._dirty = True

    def _rotate(self) -> Path | None:
        """Start a new spool; return the old one to seal (None when it was empty)."""
        with self._lock:
            if self._count == 0:
                return None
            old, fd = self.path, self._fd
            self._open()
        os.fsync(fd)
        os.close(fd)
        return old

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                full = self._count >= SEAL_RECORDS or (
                    self._count and time.monotonic() - self._opened >= SEAL_SECONDS)
                dirty, self._dirty = self._dirty, False
                fd = self._fd
            try:
                if full:
                    old = self._rotate()
                    if old is not None:
                        seal(old, self.segment_dir)
                elif dirty:
                    os.fsync(fd)
            except (OSError, ValueError) as exc:  # e.g. disk full: the spool stays readable
                logging.getLogger("nbops.serving").error(
                    "request log %s: could not sync or seal (%s); records stay in the spool, "
                    "which readers read and seal later", self.folder, exc)

    def close(self) -> None:
        """Seal what was written; the writer cannot be used afterwards."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            os.fsync(self._fd)
            os.close(self._fd)
            count, path = self._count, self.path
            self._fd = -1
        if count:
            seal(path, self.segment_dir)
        else:
            path.unlink(missing_ok=True)


def seal(spool: Path, segment_dir: Path) -> Path:
    """Turn one spool into a Parquet segment (temporary name, fsync, rename), then delete it.

    Request spools are parsed by Arrow's JSON reader, which leaves the GIL to the server's
    requests (20,000 records: about 20 ms against 270 ms for Python's json); a torn last line
    (a dead writer's spool) falls back to Python, which skips it.
    """
    import pyarrow as pa
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    target = segment_dir / f"{spool.stem}.parquet"
    tmp = segment_dir / f".{spool.stem}.{os.getpid()}-{threading.get_ident()}.tmp"
    if spool.parent.name == "spool":
        schema = pa.schema([(f, _type(f)) for f in FIELDS])
        try:
            table = pa_json.read_json(spool, parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"))
        except pa.ArrowInvalid:
            records = list(_read_lines(spool))
            table = pa.table({f: pa.array([r.get(f) for r in records], type=_type(f))
                              for f in FIELDS})
    else:  # labels: any JSON values, kept as JSON text
        records = list(_read_lines(spool))
        names = sorted({k for r in records for k in r})
        table = pa.table({k: pa.array([json.dumps(r.get(k)) for r in records], pa.string())
                          for k in names})
    pq.write_table(table, tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    spool.unlink(missing_ok=True)
    return target


def _type(name: str) -> Any:
    import pyarrow as pa

    return {"time": pa.float64(), "status": pa.int32(), "latency_ms": pa.float64()}.get(
        name, pa.string())


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The records of one spool; a torn last line (a crash mid-write) is skipped."""
    with open(path, "rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _dead(stem: str) -> bool:
    try:
        os.kill(int(stem.split("-", 1)[0]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False
    return False


def read_records(folder: Path, kind: str = "spool") -> list[dict[str, Any]]:
    """Every record in segments and spools of ``folder``; spools of dead processes are sealed
    on the way (they can no longer be sealed by their writer)."""
    import pyarrow.parquet as pq

    spool_dir = folder / kind
    segment_dir = folder / ("segments" if kind == "spool" else f"{kind}-segments")
    records: list[dict[str, Any]] = []
    sealed = {p.stem for p in segment_dir.glob("*.parquet")} if segment_dir.is_dir() else set()
    read: set[str] = set()  # spools read here; a writer may seal them meanwhile
    for spool in sorted(spool_dir.glob("*.jsonl")) if spool_dir.is_dir() else []:
        if spool.stem in sealed:
            spool.unlink(missing_ok=True)  # sealed before a crash stopped the deletion
            continue
        if _dead(spool.stem) and os.access(spool, os.W_OK):
            try:
                seal(spool, segment_dir)
                continue
            except (OSError, ValueError):
                pass
        try:
            records.extend(_read_lines(spool))
        except FileNotFoundError:  # sealed by its writer since the listing: read the segment
            continue
        read.add(spool.stem)
    for segment in sorted(segment_dir.glob("*.parquet")) if segment_dir.is_dir() else []:
        if segment.stem in read:
            continue
        rows = pq.read_table(segment).to_pylist()
        if kind != "spool":
            rows = [{k: json.loads(v) for k, v in r.items() if v is not None} for r in rows]
        records.extend(rows)
    return records


def label(request_id: str, y: Any, *, model: str, home: Path | None = None) -> bool:
    """Record the true outcome ``y`` of request ``request_id`` (a value, or a list with one
    value per example of a batch request); :func:`read_log` joins it by request id.

    Returns whether the request log holds a request with that id. A label for an unknown id
    is recorded all the same (and joined if such a request is ever logged): the caller learns
    that it matched nothing, rather than losing it."""
    if not isinstance(request_id, str) or not request_id:
        raise UsageError(f"request_id must be the id a prediction returned (the X-Request-Id "
                         f"header or 'request_id' field); got {request_id!r}.")
    folder = log_dir(model, home)
    _label_writer(folder).append({"label_request_id": request_id, "label": y,
                                  "label_time": time.time() * 1000})
    return logged(folder, request_id)


_segment_ids: dict[Path, Any] = {}  # sealed segment -> its sorted request ids (never change)


def logged(folder: Path, request_id: str) -> bool:
    """Whether the request log in ``folder`` holds a request with id ``request_id``: the live
    spools are searched as bytes, then the sealed segments, whose ids are read once per
    process and kept sorted (a segment never changes)."""
    import numpy as np
    import pyarrow.parquet as pq

    needle = b'"request_id":' + json.dumps(request_id).encode()
    for spool in (folder / "spool").glob("*.jsonl"):
        try:
            if needle in spool.read_bytes():
                return True
        except FileNotFoundError:  # sealed meanwhile: its segment is listed below
            continue
    key = request_id.encode()
    for segment in sorted((folder / "segments").glob("*.parquet"), reverse=True):
        ids = _segment_ids.get(segment)
        if ids is None:
            column = pq.read_table(segment, columns=["request_id"]).column(0).to_pylist()
            ids = _segment_ids[segment] = np.sort(np.array(
                [str(i).encode() for i in column if i is not None] or [b""], dtype=bytes))
        at = int(np.searchsorted(ids, key))
        if at < len(ids) and ids[at] == key:
            return True
    return False


_label_writers: dict[Path, LogWriter] = {}
_label_lock = threading.Lock()


def _label_writer(folder: Path) -> LogWriter:
    with _label_lock:
        if folder not in _label_writers:
            _label_writers[folder] = LogWriter(folder, "labels")
        return _label_writers[folder]


def _window(value: Any, now: float) -> float | None:
    """Epoch ms for ``since``/``until``: None, a datetime, epoch seconds, ISO text, or a
    duration back from now like ``"15m"``, ``"2h"``, ``"1d"``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp() * 1000
    if isinstance(value, timedelta):
        return (now - value.total_seconds()) * 1000
    if isinstance(value, int | float):
        return float(value) * 1000
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in units:
        return (now - float(text[:-1]) * units[text[-1]]) * 1000
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"Cannot read the time {value!r}: use a datetime, epoch seconds, ISO "
                         "text like '2026-12-01T10:00:00Z', or a duration like '15m', '2h', "
                         "'1d'.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000


def _features(logged: Any) -> tuple[list, list[str] | None]:
    """(rows, column names or None) from a logged request: the body as sent
    (``{"inputs": ...}`` / ``{"instances": ...}``, named inputs: the first) or a
    ``dataframe_split`` as the model received it."""
    if isinstance(logged, dict) and "dataframe_split" in logged:
        split = logged["dataframe_split"]
        return split["data"], split.get("columns")
    if isinstance(logged, dict):
        logged = logged.get("inputs", logged.get("instances"))
        if isinstance(logged, dict):
            logged = next(iter(logged.values()), [])
    return logged or [], None


def read_log(model: str, since: Any = None, until: Any = None, *,
             routes: tuple[str, ...] = ("primary", "canary"), home: Path | None = None) -> Any:
    """The requests model ``model`` answered in a time window, one row per example.

    Columns: ``request_id``, ``time`` (UTC), ``version``, ``route``, ``latency_ms``, one
    column per feature (``f0``, ``f1``, ... or the signature's column names), ``prediction``
    (the class index when the output is a vector of scores, kept in ``scores``) and ``label``
    (joined by request id, NaN until it arrives). Failed requests and, by default, shadow
    predictions (``routes=("shadow",)``) are left out. Pass the frame to
    ``nbops.monitor.run_check(model, frame, label_column="label",
    prediction_column="prediction")``.
    """
    import numpy as np
    import pandas as pd

    from nbops.registry.resolve import parse_ref

    name = parse_ref(model).name
    folder = log_dir(name, home)
    if not folder.is_dir():
        raise NotFoundError(f"No request log for model {name!r} at {folder}. Serve it with "
                            f"`nbops serve {name}@ALIAS` and send requests first.")
    now = time.time()
    low, high = _window(since, now), _window(until, now)
    labels = {r["label_request_id"]: r["label"] for r in
              sorted(read_records(folder, "labels"), key=lambda r: r.get("label_time", 0))}
    rows: list[dict[str, Any]] = []
    for rec in sorted(read_records(folder), key=lambda r: r["time"]):
        if rec["status"] != 200 or rec["route"] not in routes:
            continue
        if (low is not None and rec["time"] < low) or (high is not None and rec["time"] >= high):
            continue
        inputs, columns = _features(json.loads(rec["inputs"]))
        outputs = json.loads(rec["outputs"])
        if isinstance(outputs, dict):  # several outputs by name: the first is the prediction
            outputs = next(iter(outputs.values()), [])
        truth = labels.get(rec["request_id"])
        for i, x in enumerate(inputs):
            flat = np.asarray(x, dtype=float).ravel()
            row = {"request_id": rec["request_id"], "row": i, "time": rec["time"],
                   "version": rec["version"], "route": rec["route"],
                   "latency_ms": rec["latency_ms"]}
            row.update({(columns[j] if columns and j < len(columns) else f"f{j}"): v
                        for j, v in enumerate(flat.tolist())})
            out = np.asarray(outputs[i]) if i < len(outputs) else np.asarray(np.nan)
            if out.ndim >= 1 and out.size > 1:
                row["prediction"] = int(out.argmax())
                row["scores"] = out.tolist()
            else:
                row["prediction"] = out.ravel()[0].item() if out.size else np.nan
            y = truth[i] if isinstance(truth, list) and i < len(truth) else truth
            row["label"] = np.nan if y is None else y
            rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["time"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
    return frame
