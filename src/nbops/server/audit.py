"""The alias audit trail as the REST API returns it.

``nbops.registry.audit`` owns the format (registered-model tags ``nbops.audit.<ms>.<hex>``
holding JSON) and parses it; this module only turns its records into the wire contract's
:class:`AuditEntry`, newest first, straight from tags already fetched with the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nbops.registry.audit import records_from_tags
from nbops.server.contract import AuditEntry

__all__ = ["AUDIT_PREFIX", "entries_from_tags", "entry", "user_tags"]

AUDIT_PREFIX = "nbops.audit."


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A model's tags without the audit entries."""
    return {k: v for k, v in sorted(tags.items()) if not k.startswith(AUDIT_PREFIX)}


def entry(data: Mapping[str, Any]) -> AuditEntry:
    """An :class:`AuditEntry` from one audit record's stored JSON (``AuditRecord.to_dict()``)."""
    return AuditEntry(alias=str(data["alias"]), from_version=data.get("from_version") or None,
                      to_version=data.get("to_version") or None, when=str(data.get("when", "")),
                      who=str(data.get("who", "")), reason=data.get("reason") or None,
                      action=str(data.get("action", "set")))


def entries_from_tags(tags: Mapping[str, str]) -> list[AuditEntry]:
    """Audit entries newest first; malformed tags are skipped, never fatal."""
    return [entry(r.to_dict()) for r in reversed(records_from_tags(tags))]
