"""Plain, JSON-ready views of MLflow registry entities (versions as strings, ISO 8601 times)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nbops.registry.audit import AUDIT_PREFIX, iso_millis
from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store.types import ModelVersion, RegisteredModel

__all__ = ["ModelInfo", "Page", "VersionInfo", "model_info", "user_tags", "version_info"]

_MODEL_ID_SOURCE = re.compile(r"^models:/(m-[0-9a-f]+)$")

@dataclass(frozen=True)
class ModelInfo:
    """One registered model. ``tags`` leaves out the ``nbops.audit.*`` records."""

    name: str
    description: str
    aliases: dict[str, str]
    latest_version: str | None
    tags: dict[str, str]
    created_at: str | None
    updated_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VersionInfo:
    """One model version."""

    name: str
    version: str
    run_id: str | None
    model_id: str | None
    source: str
    status: str
    aliases: list[str]
    tags: dict[str, str]
    description: str
    created_at: str | None

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Page(list):
    """A list of results plus the token of the next page (``None`` on the last page)."""

    def __init__(self, items: Any = (), next_page_token: str | None = None) -> None:
        super().__init__(items)
        self.next_page_token = next_page_token


def iso(millis: int | None) -> str | None:
    return iso_millis(int(millis)) if millis else None


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(tags.items()) if not k.startswith(AUDIT_PREFIX)}


def model_info(model: RegisteredModel) -> ModelInfo:
    latest = [int(v.version) for v in (model.latest_versions or [])]
    return ModelInfo(
        name=model.name,
        description=model.description or "",
        aliases={str(k): str(v) for k, v in sorted(model.aliases.items())},
        latest_version=str(max(latest)) if latest else None,
        tags=user_tags(model.tags),
        created_at=iso(model.creation_timestamp),
        updated_at=iso(_last_change(model)),
    )


def _last_change(model: RegisteredModel) -> int | None:
    """The newest of MLflow's own update time and the model's latest audited alias move
    (MLflow does not count an alias move as an update)."""
    moves = [int(key[len(AUDIT_PREFIX):].split(".", 1)[0]) for key in model.tags
             if key.startswith(AUDIT_PREFIX) and key[len(AUDIT_PREFIX):].split(".", 1)[0].isdigit()]
    stamps = [t for t in (model.last_updated_timestamp, *moves) if t]
    return max(stamps) if stamps else None


def version_info(mv: ModelVersion, aliases: list[str] | None = None) -> VersionInfo:
    """A :class:`VersionInfo` of an MLflow ``ModelVersion``."""
    source = mv.source or ""
    match = _MODEL_ID_SOURCE.match(source)
    model_id = mv.model_id or mv.tags.get(T.MODEL_ID) or (match.group(1) if match else None)
    return VersionInfo(
        name=mv.name,
        version=str(mv.version),
        run_id=mv.run_id or mv.tags.get(T.SOURCE_RUN),
        model_id=model_id,
        source=source,
        status=str(mv.status),
        aliases=sorted(aliases if aliases is not None else (mv.aliases or [])),
        tags=dict(sorted(mv.tags.items())),
        description=mv.description or "",
        created_at=iso(mv.creation_timestamp),
    )


