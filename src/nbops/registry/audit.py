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

Writers on one machine are serialized by a lock file in the nbops home, so records of one model
are in the order the alias moved and the latest record's ``to_version`` is where the alias points.

Example:
    >>> rec = AuditRecord("prod", "2", "3", "2026-11-23T19:23:37.123Z", "ada", None, "set")
    >>> rec.to_dict()["action"]
    'set'
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "ACTIONS",
    "AUDIT_PREFIX",
    "AuditRecord",
    "audit_key",
    "current_user",
    "record",
    "records_from_tags",
    "writer_lock",
]

AUDIT_PREFIX = "nbops.audit."
ACTIONS = ("set", "delete", "rollback", "serve")
MAX_REASON = 2000
_KEY_RE = re.compile(r"^nbops\.audit\.(\d{13})\.([0-9a-f]{6})$")


@dataclass(frozen=True)
class AuditRecord:
    """One alias change. ``to_dict()`` is exactly the JSON stored in the tag's value."""

    alias: str
    from_version: str | None
    to_version: str | None
    when: str
    who: str
    reason: str | None
    action: str
    key: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The record as stored: alias, from_version, to_version, when, who, reason, action."""
        data = asdict(self)
        data.pop("key")
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
               reason: str | None, after_millis: int = 0) -> AuditRecord:
    """A record for a change happening now (strictly later than ``after_millis``)."""
    millis = max(int(time.time() * 1000), after_millis + 1)
    if reason is not None:
        reason = str(reason)[:MAX_REASON]
    return AuditRecord(alias, from_version, to_version, iso_millis(millis), current_user(),
                       reason or None, action, key=audit_key(millis))


def record(model: str, alias: str, from_version: str | None, to_version: str | None,
           action: str, reason: str | None = None, *, client: Any = None,
           home: Path | None = None) -> AuditRecord:
    """Append one record to ``model``'s audit trail for a change made outside
    :mod:`nbops.registry.api` (which records its own), and return it.

    Written under :func:`writer_lock`, strictly after the model's newest record, like the
    registry's own. ``client`` defaults to the store of the settings in force, ``home`` (the
    folder of the lock file) to the nbops home.

    >>> record("churn", "prod", "2", "3", "serve", "server followed the alias")  # doctest: +SKIP
    AuditRecord(alias='prod', from_version='2', to_version='3', ..., action='serve')
    """
    from nbops.exceptions import UsageError
    from nbops.registry._store import call, client_for

    if action not in ACTIONS:
        raise UsageError(f"Unknown audit action {action!r}; use one of {', '.join(ACTIONS)}.")
    if not isinstance(alias, str) or not alias.strip():
        raise UsageError(f"An audit record names an alias like 'prod'; got {alias!r}.")
    if home is None:
        from nbops.config import load_settings

        home = load_settings().home
    client = client_for(client)
    with writer_lock(Path(home)):  # ordered with the alias changes of other processes
        tags = call(client, f"reading model {model!r}", client.get_registered_model, model).tags
        rec = new_record(alias, _version(from_version), _version(to_version), action, reason,
                         last_millis(tags))
        call(client, f"recording the audit record of {model!r}", client.set_registered_model_tag,
             model, rec.key, rec.to_json())
    return rec


def records_from_tags(tags: Mapping[str, str], alias: str | None = None) -> list[AuditRecord]:
    """The audit records in a registered model's tags, oldest first (malformed ones skipped)."""
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
            )
        except (ValueError, KeyError, TypeError):
            continue
        if alias is None or record.alias == alias:
            records.append(record)
    return records


def _version(value: Any) -> str | None:
    return None if value is None else str(value)


def last_millis(tags: Mapping[str, str]) -> int:
    """The time of the newest audit record in ``tags`` (0 when none)."""
    stamps = [int(m.group(1)) for k in tags if (m := _KEY_RE.match(k))]
    return max(stamps, default=0)


@contextmanager
def writer_lock(home: Path, timeout: float = 30.0) -> Iterator[None]:
    """Serialize alias changes of processes sharing one nbops home (a lock file; a no-op where
    ``fcntl`` is missing). Processes on other machines are not serialized: their records all
    land, but may interleave."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "registry.lock", "a+b") as handle:
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
