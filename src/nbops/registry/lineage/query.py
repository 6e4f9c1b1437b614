"""MLflow access of one lineage query, with a cache: every entity is fetched at most once.

This is the only module of the lineage code that reads the store: the finders of the
relations, the root resolution and the walk ask a :class:`Query`, never the store itself.

Example:
    >>> q = Query()                                             # doctest: +SKIP
    >>> q.search_runs("tags.`mlflow.parentRunId` = 'abc'")      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from nbops.exceptions import NotFoundError, PermanentStoreError
from nbops.registry.resolve import model_names, quote, resolve_version
from nbops.store import Store, open_store

if TYPE_CHECKING:
    from nbops.store.types import ModelVersion, Run

__all__ = ["Query", "tag_key"]


def tag_key(key: str) -> str:
    """``key`` as a tag in an MLflow search filter (quoted: nbops tag keys contain dots)."""
    return f"tags.`{key}`"


class Query:
    """MLflow access for one lineage query; every entity is fetched at most once."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or open_store()
        self._experiments: list[str] | None = None
        self.runs: dict[str, Run | None] = {}
        self.versions: dict[tuple[str, str], ModelVersion | None] = {}
        self._aliases: dict[str, dict[str, list[str]]] = {}
        self._searches: dict[str, list[Run]] = {}
        self._version_searches: dict[str, list[ModelVersion]] = {}
        self.calls = 0

    # runs
    def experiment_ids(self) -> list[str]:
        if self._experiments is None:
            self.calls += 1
            self._experiments = [e.experiment_id for e in self.store.experiments(deleted=True)]
        return self._experiments

    def search_runs(self, filter_string: str) -> list[Run]:
        """Active runs of every experiment matching ``filter_string`` (cached)."""
        if filter_string not in self._searches:
            experiments = self.experiment_ids()
            self.calls += 1
            found: list[Run] = self.store.runs(experiments, filter_string) if experiments else []
            for run in found:
                self.runs[run.info.run_id] = run
            self._searches[filter_string] = found
        return self._searches[filter_string]

    def get_runs(self, run_ids: Iterable[str]) -> dict[str, Run]:
        """Runs by id (missing ids left out), fetched in bulk."""
        wanted = list(dict.fromkeys(i for i in run_ids if i))
        missing = [i for i in wanted if i not in self.runs]
        if len(missing) == 1:
            self.runs[missing[0]] = self._get_run(missing[0])
        elif missing:
            for i in range(0, len(missing), 100):
                chunk = missing[i:i + 100]
                ids = ", ".join(quote(r) for r in chunk)
                self.search_runs(f"attributes.run_id IN ({ids})")
                for run_id in chunk:
                    self.runs.setdefault(run_id, None)
        return {i: r for i in wanted if (r := self.runs.get(i)) is not None}

    def _get_run(self, run_id: str) -> Run | None:
        self.calls += 1
        try:
            return self.store.run(run_id)
        except (NotFoundError, PermanentStoreError):  # unknown, or not a run id at all
            return None

    # model versions
    def search_versions(self, filter_string: str) -> list[ModelVersion]:
        if filter_string not in self._version_searches:
            self.calls += 1
            found: list[ModelVersion] = self.store.model_versions(filter_string)
            for mv in found:
                self.versions[(mv.name, str(mv.version))] = mv
            self._version_searches[filter_string] = found
        return self._version_searches[filter_string]

    def get_version(self, name: str, version: str) -> ModelVersion | None:
        key = (name, str(version))
        if key not in self.versions:
            self.calls += 1
            try:
                self.versions[key] = self.store.model_version(name, version)
            except (NotFoundError, PermanentStoreError):
                self.versions[key] = None
        return self.versions[key]

    def aliases(self, name: str, version: str) -> list[str]:
        """Aliases of ``name/version`` (one registered-model read per model name)."""
        if name not in self._aliases:
            by_version: dict[str, list[str]] = {}
            self.calls += 1
            try:
                model = self.store.registered_model(name)
                for alias, v in model.aliases.items():
                    by_version.setdefault(str(v), []).append(str(alias))
            except NotFoundError:
                pass
            self._aliases[name] = by_version
        return sorted(self._aliases[name].get(str(version), []))

    # models by reference
    def resolve_version(self, ref: str) -> ModelVersion:
        """The model version ``ref`` names (``churn``, ``churn@prod``, ``churn/3``)."""
        self.calls += 1
        mv = resolve_version(ref, store=self.store)
        self.versions.setdefault((mv.name, str(mv.version)), mv)
        return mv

    def model_names(self) -> list[str]:
        """Names of the registered models (for suggestions in error messages)."""
        self.calls += 1
        return model_names(self.store)

    def remember(self, entity: Run | ModelVersion) -> None:
        """Keep a run or model version found some other way, so it is not fetched again."""
        if hasattr(entity, "info"):
            self.runs.setdefault(entity.info.run_id, entity)
        else:
            self.versions.setdefault((entity.name, str(entity.version)), entity)
