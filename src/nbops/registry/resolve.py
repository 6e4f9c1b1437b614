"""Model references: ``name``, ``name@alias``, ``name/3`` and the ``models:/`` URI forms.

=========================  ==================================================
reference                  resolves to
=========================  ==================================================
``churn``                  the latest (highest) version of ``churn``
``churn/3``                version 3
``churn@prod``             the version the alias ``prod`` points to
``churn@latest``           the latest version (``latest`` is reserved by MLflow)
``models:/churn/3``        version 3 (MLflow's URI form)
``models:/churn@prod``     the version behind ``prod``
=========================  ==================================================

Example:
    >>> from nbops.registry.resolve import parse_ref
    >>> parse_ref("models:/churn@prod")
    ModelSpec(name='churn', version=None, alias='prod')
    >>> resolve("churn@prod").version        # doctest: +SKIP
    '3'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbops.exceptions import NotFoundError, PermanentStoreError, UsageError, closest
from nbops.registry.info import VersionInfo, version_info
from nbops.store import Store, open_store
from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store.types import ModelVersion, RegisteredModel

__all__ = [
    "ModelSpec",
    "get_version",
    "model_names",
    "onnx_package",
    "parse_ref",
    "quote",
    "registered_model",
    "resolve",
    "resolve_version",
]

FORMS = "'name', 'name@alias', 'name/3', 'models:/name@alias' or 'models:/name/3'"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model reference; at most one of ``version`` and ``alias`` is set."""

    name: str
    version: str | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        return f"{self.name}/{self.version}" if self.version else self.name


def parse_ref(ref: str) -> ModelSpec:
    """Split a model reference into name and version or alias (no store access).

    Example:
        >>> parse_ref("churn/3")
        ModelSpec(name='churn', version='3', alias=None)
    """
    if not isinstance(ref, str) or not ref.strip():
        raise UsageError(f"A model reference must be a non-empty string like {FORMS}; "
                         f"got {ref!r}.")
    text = ref.strip()
    if text.startswith("models:/"):
        text = text[len("models:/"):]
    name, version, alias = text, None, None
    if "@" in text:
        name, alias = text.rsplit("@", 1)
    elif "/" in text:
        name, version = text.rsplit("/", 1)
        if not version.isdigit():
            raise UsageError(f"{ref!r}: the part after '/' must be a version number, like "
                             f"'{name}/3'. Accepted forms: {FORMS}.")
        version = str(int(version))
    if not name or "/" in name or ":" in name or (alias is not None and not alias):
        raise UsageError(f"{ref!r} is not a model reference. Use {FORMS}.")
    return ModelSpec(name, version, alias)


def quote(value: str) -> str:
    """``value`` as a quoted string literal for an MLflow filter."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def model_names(store: Store, limit: int = 5000) -> list[str]:
    """Names of registered models (the first ``limit``), for "did you mean" hints."""
    return [m.name for m in store.registered_models(limit=limit)]


def registered_model(name: str, store: Store | None = None) -> RegisteredModel:
    """The registered model ``name``; NotFoundError naming the closest names when unknown."""
    store = store or open_store()
    try:
        return store.registered_model(name)
    except NotFoundError:
        pass
    raise NotFoundError(
        f"No registered model named {name!r}.{closest(name, model_names(store))} "
        "List the models with `nbops registry list`, or register one with "
        "nbops.log_model(model, name) inside a tracked run."
    ) from None


def latest_version(name: str, store: Store) -> ModelVersion | None:
    """The highest version of ``name`` (None when it has no versions)."""
    page = store.model_versions(f"name = {quote(name)}", order_by=["version_number DESC"],
                                limit=1)
    return page[0] if page else None


def _version_numbers(name: str, store: Store) -> list[str]:
    return [str(v.version) for v in store.model_versions(f"name = {quote(name)}",
                                                         order_by=["version_number ASC"])]


def resolve(ref: str, *, store: Store | None = None) -> VersionInfo:
    """The model version a reference points to, as a :class:`VersionInfo`.

    Unknown model, version or alias → :class:`NotFoundError` naming the closest matches.

    Example:
        >>> mv = resolve("models:/churn@prod")   # doctest: +SKIP
        >>> mv.name, mv.version, mv.aliases     # doctest: +SKIP
        ('churn', '3', ['prod'])
    """
    return version_info(resolve_version(ref, store=store))


def resolve_version(ref: str, *, store: Store | None = None) -> ModelVersion:
    """Like :func:`resolve`, but the MLflow ``ModelVersion`` entity itself."""
    spec = parse_ref(ref)
    store = store or open_store()
    model = registered_model(spec.name, store)
    if spec.alias is not None and spec.alias.lower() != "latest":
        aliases = {str(k): str(v) for k, v in model.aliases.items()}
        if spec.alias not in aliases:
            known = (f" Its aliases: {', '.join(sorted(aliases))}." if aliases
                     else " It has no aliases yet.")
            raise NotFoundError(
                f"Model {spec.name!r} has no alias {spec.alias!r}."
                f"{closest(spec.alias, aliases)}{known} Set one with "
                f"`nbops registry alias set {spec.name} {spec.alias} VERSION`."
            )
        return get_version(spec.name, aliases[spec.alias], store)
    if spec.version is not None:
        return get_version(spec.name, spec.version, store)
    latest = latest_version(spec.name, store)
    if latest is None:
        raise NotFoundError(f"Model {spec.name!r} has no versions yet. Log one with "
                            f"nbops.log_model(model, {spec.name!r}) inside a tracked run.")
    return latest


def get_version(name: str, version: str, store: Store) -> ModelVersion:
    """Version ``version`` of model ``name``; NotFoundError listing its versions when unknown."""
    try:
        return store.model_version(name, version)
    except (NotFoundError, PermanentStoreError):  # unknown, or not a version number at all
        pass
    known = _version_numbers(name, store)
    listed = f" Its versions: {', '.join(known)}." if known else " It has no versions yet."
    raise NotFoundError(
        f"Model {name!r} has no version {version}.{closest(str(version), known)}{listed} "
        f"See them with `nbops registry versions {name}`."
    ) from None


def onnx_package(name: str, version: str, store: Store) -> tuple[str, str] | None:
    """(package name, package version) of the newest ONNX package of ``name/version`` (what
    ``nbops package`` registers, tagged ``nbops.source_model``), or None."""
    source = f"{name}/{version}"
    found = store.model_versions(f"tags.`{T.SOURCE_MODEL}` = {quote(source)}")
    onnx = [v for v in found if v.tags.get(T.PACKAGE) == "onnx"]
    if not onnx:
        return None
    best = max(onnx, key=lambda v: (int(v.creation_timestamp or 0), int(v.version)))
    return best.name, str(best.version)
