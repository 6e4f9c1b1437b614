"""Read side of the alias audit trail that ``nbops.registry`` writes.

Each alias move is a registered-model tag ``nbops.audit.<13-digit epoch ms>.<6 hex>`` whose value
is JSON ``{"alias", "from_version", "to_version", "when", "who", "reason", "action"}``. The format
is fixed, so the entries are parsed straight from the model's tags (already fetched with the
model: no extra query).
"""

from __future__ import annotations

import json
import re
from typing import Any

from nbops.server.contract import AuditEntry

__all__ = ["AUDIT_PREFIX", "entries_from_tags", "entry", "history", "user_tags"]

AUDIT_PREFIX = "nbops.audit."
_KEY = re.compile(r"^nbops\.audit\.(\d{13})\.([0-9a-f]{6})$")


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    """A model's tags without the audit entries."""
    return {k: v for k, v in sorted(tags.items()) if not k.startswith(AUDIT_PREFIX)}


def _opt(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def entry(data: dict[str, Any]) -> AuditEntry:
    """An :class:`AuditEntry` from the JSON of one audit record."""
    return AuditEntry(alias=str(data["alias"]), from_version=_opt(data.get("from_version")),
                      to_version=_opt(data.get("to_version")), when=str(data.get("when", "")),
                      who=str(data.get("who", "")), reason=_opt(data.get("reason")),
                      action=str(data.get("action", "set")))


def entries_from_tags(tags: dict[str, str]) -> list[AuditEntry]:
    """Audit entries newest first; malformed tags are skipped, never fatal."""
    keyed = []
    for key, value in tags.items():
        m = _KEY.match(key)
        if not m:
            continue
        try:
            data = json.loads(value)
        except (TypeError, ValueError):
            continue
        if not isinstance(data, dict) or "alias" not in data:
            continue
        keyed.append(((int(m.group(1)), m.group(2)), entry(data)))
    keyed.sort(key=lambda kv: kv[0], reverse=True)
    return [e for _, e in keyed]


def history(client: Any, name: str, tags: dict[str, str] | None = None,
            alias: str | None = None) -> list[AuditEntry]:
    """The audit trail of model ``name`` (optionally one alias), newest first."""
    if tags is None:
        tags = client.get_registered_model(name).tags or {}
    entries = entries_from_tags(tags)
    return [e for e in entries if e.alias == alias] if alias else entries
