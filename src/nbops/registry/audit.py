"""The alias audit trail: one registered-model tag per alias change.

Every change nbops makes to an alias (``set_alias``, ``delete_alias``, ``rollback``) writes one
tag on the **registered model**, and so does a server that followed an alias to another version
(``nbops serve``, through :func:`record`)::

    key    nbops.audit.<13-digit epoch milliseconds>.<6 lowercase hex>
    value  {"alias": "prod", "from_version": "2", "to_version": "3",
            "when": "2026-11-23T19:23:37.123Z", "who": "ada",
            "reason": "better AUC", "action": "set"}

``from_version`` / ``to_version`` are version strings or ``null`` (``null`` from: the alias did not
exist; ``null`` to: it was deleted). ``action`` is ``set``, ``delete``, ``rollback`` or ``serve``
(a server switched to the version the alias points to: blue-green, or a rollback followed). ``who`` is
``JUPYTERHUB_USER``, else ``NBOPS_USER``, else the OS user. Sorting the keys as strings sorts the
records by time. One tag per change means two writers never overwrite each other's record.

A record also names its predecessor: ``"prev"`` is the key of the alias's previous move record
(``set``, ``delete`` or ``rollback``; ``null`` for the first), so the moves of one alias form a
chain. :mod:`nbops.registry.api` writes a move **record first**, then moves the alias: a crash in
between leaves a record whose move did not happen, never a move without a record. Readers tell
them apart with one rule (:func:`mark_applied`): a move record is *applied* when the next move
record of the alias starts where it ended (``from_version`` equals its ``to_version``), or, for
the newest one, when the alias points where it says now. History keeps such records, flagged
``applied=False``; rollback ignores them.

The store is the arbiter between writers, on one machine or many: see :mod:`nbops.registry.api`
for the write protocol and docs/registry.md for what it guarantees. :func:`writer_lock` only
queues the writers of one machine (a lock file keyed on the store's URI) so they rarely collide.

Example:
    >>> rec = AuditRecord("prod", "2", "3", "2026-11-23T19:23:37.123Z", "ada", None, "set")
    >>> rec.to_dict()["action"]
    'set'
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store import Store

__all__ = [
    "ACTIONS",
    "AUDIT_PREFIX",
    "MOVES",
    "AuditRecord",
    "audit_key",
    "current_user",
    "mark_applied",
    "record",
    "records_from_tags",
    "writer_lock",
]

AUDIT_PREFIX = T.AUDIT_PREFIX
ACTIONS = ("set", "delete", "rollback", "serve")
MOVES = ("set", "delete", "rollback")  # the actions that move the alias; "serve" follows a move
MAX_REASON = 2000
_KEY_RE = re.compile(r"^nbops\.audit\.(\d{13})\.([0-9a-f]{6})$")


@dataclass(frozen=True)
class AuditRecord:
    """One alias change. ``to_dict()`` is exactly the JSON stored in the tag's value.

    ``prev`` is the key of the alias's previous move record (None for the first, and for
    ``serve`` records and records written before nbops kept the chain). ``applied`` is not
    stored: readers work it out (see :func:`mark_applied`).
    """

    alias: str
    from_version: str | None
    to_version: str | None
    when: str
    who: str
    reason: str | None
    action: str
    key: str = field(default="", compare=False)
    prev: str | None = None
    applied: bool = field(default=True, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The record as stored: alias, from_version, to_version, when, who, reason, action,
        prev."""
        data = asdict(self)
        data.pop("key")
        data.pop("applied")
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @property
    def millis(self) -> int:
        """Epoch milliseconds of the change (from the tag key)."""
        match = _KEY_RE.match(self.key)
        return int(match.group(1)) if match else 0


def current_user() -> str:
    """``JUPYTERHUB_USER``, else ``NBOPS_USER``, else the OS user."""
    from nbops.tracking.run import current_user as user

    return user()


def audit_key(millis: int) -> str:
    """A fresh tag key for a change at ``millis`` (epoch ms)."""
    return f"{AUDIT_PREFIX}{millis:013d}.{secrets.token_hex(3)}"


def iso_millis(millis: int) -> str:
    """``2026-11-23T19:23:37.123Z`` for epoch milliseconds."""
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def new_record(alias: str, from_version: str | None, to_version: str | None, action: str,
               reason: str | None, after_millis: int = 0, prev: str | None = None) -> AuditRecord:
    """A record for a change happening now (strictly later than ``after_millis``), following
    the record keyed ``prev``."""
    millis = max(int(time.time() * 1000), after_millis + 1)
    if reason is not None:
        reason = str(reason)[:MAX_REASON]
    return AuditRecord(alias, from_version, to_version, iso_millis(millis), current_user(),
                       reason or None, action, key=audit_key(millis), prev=prev)


def record(model: str, alias: str, from_version: str | None, to_version: str | None,
           action: str, reason: str | None = None, *, store: Store | None = None) -> AuditRecord:
    """Append one record to ``model``'s audit trail for a change made outside
    :mod:`nbops.registry.api` (which records its own), and return it.

    Written under :func:`writer_lock`, strictly after the model's newest record, like the
    registry's own. ``store`` defaults to the store of the settings in force; the lock is keyed
    on it, whatever the caller's nbops home.

    >>> record("churn", "prod", "2", "3", "serve", "server followed the alias")  # doctest: +SKIP
    AuditRecord(alias='prod', from_version='2', to_version='3', ..., action='serve')
    """
    from nbops.exceptions import UsageError
    from nbops.store import open_store

    if action not in ACTIONS:
        raise UsageError(f"Unknown audit action {action!r}; use one of {', '.join(ACTIONS)}.")
    if not isinstance(alias, str) or not alias.strip():
        raise UsageError(f"An audit record names an alias like 'prod'; got {alias!r}.")
    store = store or open_store()
    with writer_lock(store.tracking_uri):  # ordered with the alias changes of this machine
        tags = store.registered_model(model).tags
        rec = new_record(alias, _version(from_version), _version(to_version), action, reason,
                         last_millis(tags))
        store.set_model_tag(model, rec.key, rec.to_json())
    return rec


def records_from_tags(tags: Mapping[str, str], alias: str | None = None,
                      aliases: Mapping[str, Any] | None = None) -> list[AuditRecord]:
    """The audit records in a registered model's tags, oldest first (malformed ones skipped),
    each with ``applied`` worked out by :func:`mark_applied` (``aliases``: where the model's
    aliases point now; without it the newest move record of an alias counts as applied)."""
    records = []
    for key in sorted(k for k in tags if _KEY_RE.match(k)):
        try:
            data = json.loads(tags[key])
            record = AuditRecord(
                alias=str(data["alias"]),
                from_version=_version(data.get("from_version")),
                to_version=_version(data.get("to_version")),
                when=str(data.get("when", "")),
                who=str(data.get("who", "")),
                reason=data.get("reason"),
                action=str(data.get("action", "set")),
                key=key,
                prev=data.get("prev"),
            )
        except (ValueError, KeyError, TypeError):
            continue
        records.append(record)
    records = mark_applied(records, aliases)
    return [r for r in records if alias is None or r.alias == alias]


def mark_applied(records: list[AuditRecord],
                 aliases: Mapping[str, Any] | None = None) -> list[AuditRecord]:
    """``records`` (oldest first) with ``applied`` set.

    A move record whose alias was, at the next move record of that alias (its
    ``from_version``) or now (``aliases``, for the newest), still where the record found it and
    not where it meant to put it, did not happen: its writer died between writing it and
    moving the alias. Any other record counts as applied, including one whose alias was moved
    outside nbops (MLflow UI) since. Without ``aliases`` the newest record counts as applied.
    """
    out = list(records)
    last: dict[str, int] = {}

    def judge(i: int, seen: str | None) -> None:
        rec = out[i]
        missed = seen == rec.from_version and seen != rec.to_version
        out[i] = replace(rec, applied=not missed)

    for i, rec in enumerate(out):
        if rec.action not in MOVES:
            continue
        if rec.alias in last:
            judge(last[rec.alias], rec.from_version)
        last[rec.alias] = i
    if aliases is not None:
        for name, i in last.items():
            judge(i, _version(aliases.get(name)))
    return out


def _version(value: Any) -> str | None:
    return None if value is None else str(value)


def last_millis(tags: Mapping[str, str]) -> int:
    """The time of the newest audit record in ``tags`` (0 when none)."""
    stamps = [int(m.group(1)) for k in tags if (m := _KEY_RE.match(k))]
    return max(stamps, default=0)


def lock_path(store_uri: str) -> Path:
    """The lock file of the alias writers of one store on this machine: in the system's
    temporary folder, named after the store's URI (a SQLite store by its absolute path), so
    every process writing to that store shares it, whatever its folder or nbops home."""
    key = store_uri.strip()
    if key.startswith("sqlite:///"):
        key = "sqlite:///" + str(Path(key[len("sqlite:///"):]).resolve())
    else:
        key = key.rstrip("/")
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / "nbops-locks" / f"registry-{digest}.lock"


@contextmanager
def writer_lock(store_uri: str, timeout: float = 30.0) -> Iterator[None]:
    """Queue the alias writers of one store on this machine (a lock file, :func:`lock_path`).

    This only keeps local writers from colliding: correctness between writers comes from the
    store (the write protocol of :mod:`nbops.registry.api`), so where the lock cannot be had
    (no ``fcntl``, an unwritable temporary folder, a holder stuck past ``timeout``) the write
    goes ahead unqueued."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = lock_path(store_uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - closed below, after the block
    except OSError:
        yield
        return
    with handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break  # a stuck holder must not block promotions forever; write anyway
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
