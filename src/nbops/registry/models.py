"""Model versions nbops registers: :class:`ModelRef`, what a version was trained on, and
registering a logged model as a new version.

Logging a model from a run (``nbops.log_model``) spans tracking, data, monitoring and the
registry: it is a workflow, :mod:`nbops.workflows.log_model`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nbops.exceptions import StoreUnavailableError
from nbops.registry.writes import registry_writes_allowed
from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store import Store
    from nbops.store.types import LoggedModel
    from nbops.store.types import Run as MlflowRun

__all__ = ["ModelRef", "dataset_digests", "register_version"]

_DIGEST_TAG = re.compile(r"^nbops\.dataset\.(.+)\.digest$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version logged by nbops.

    Attributes:
        name: registered model name.
        version: version string (``None`` when logged with ``register=False``).
        uri: ``models:/name/3``; ``models:/<model_id>`` when not registered.
        run_id: MLflow id of the run that logged it.
        model_id: MLflow 3 LoggedModel id (``m-...``).
    """

    name: str
    version: str | None
    uri: str
    run_id: str
    model_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.name}/{self.version}" if self.version else self.uri


def dataset_digests(run: MlflowRun) -> dict[str, str]:
    """Dataset name → digest of what ``run`` read: nbops ``nbops.dataset.<name>.digest`` tags
    (full digests; datasets tagged ``context=output`` are left out) and MLflow dataset inputs."""
    tags: Mapping[str, str] = run.data.tags
    found: dict[str, str] = {}
    for key, value in tags.items():
        match = _DIGEST_TAG.match(key)
        if match and tags.get(T.dataset_tag(match.group(1), "context")) != "output":
            found[match.group(1)] = value
    inputs = run.inputs.dataset_inputs if run.inputs is not None else []
    for item in inputs:
        ds = item.dataset
        known = found.get(ds.name)
        if known is None or not known.startswith(ds.digest):
            found.setdefault(ds.name, ds.digest)
    return found


def register_version(store: Store, name: str, logged: LoggedModel, run_id: str,
                     tags: dict[str, str]) -> str | None:
    """Register ``logged`` (a LoggedModel of run ``run_id``) as a new version of ``name``,
    creating the model if needed; the version number, or None when the settings turn registry
    writes off (the model stays logged in its run).

    The version's source is the logged model's artifact location, as MLflow's own client
    does for registries that cannot resolve ``models:/<model_id>`` themselves (its SQL
    registry would look the logged model up through the process-wide tracking URI)."""
    if not registry_writes_allowed(f"registering a version of model {name!r}"):
        return None
    store.ensure_registered_model(name)
    mv = store.create_model_version(name, source=logged.artifact_location, run_id=run_id,
                                    tags=tags, model_id=logged.model_id)
    if mv.status not in ("READY", None):
        raise StoreUnavailableError(
            f"MLflow created {name}/{mv.version} but it is {mv.status} ({mv.status_message}). "
            "Check the registry, then log the model again."
        )
    return str(mv.version)
