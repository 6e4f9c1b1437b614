"""MLflow access of one lineage query, with a cache: every entity is fetched at most once.

This is the only module of the lineage code that reads the store: the finders of the
relations, the root resolution and the walk ask a :class:`Query`, never the store itself.

Example:
    >>> q = Query()                                             # doctest: +SKIP
    >>> q.search_runs("tags.`mlflow.parentRunId` = 'abc'")      # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from nbops.exceptions import NotFoundError, PermanentStoreError
from nbops.registry.resolve import model_names, parse_ref, quote, resolve_version
from nbops.store import Store, open_store

if TYPE_CHECKING:
    from nbops.store.types import ModelVersion, Run

__all__ = ["Query", "tag_key"]

E = TypeVar("E")

# A tag search for several values asks for this many entities per value at most; a store
# holding more under the values' common prefix is searched value by value instead.
PER_VALUE = 50
# Names in one ``name IN (...)`` search of registered models.
NAMES_PER_SEARCH = 100


def tag_key(key: str) -> str:
    """``key`` as a tag in an MLflow search filter (quoted: nbops tag keys contain dots)."""
    return f"tags.`{key}`"


class Query:
    """MLflow access for one lineage query; every entity is fetched at most once.

    ``calls`` counts the store requests made so far.
    """

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or open_store()
        self._experiments: list[str] | None = None
        self.runs: dict[str, Run | None] = {}
        self.versions: dict[tuple[str, str], ModelVersion | None] = {}
        # aliases by model name, then version; or of one version, when MLflow gave them
        self._aliases: dict[str, dict[str, list[str]]] = {}
        self._version_aliases: dict[tuple[str, str], list[str]] = {}
        self._searches: dict[tuple[str, int | None], list[Run]] = {}
        self._version_searches: dict[tuple[str, int | None], list[ModelVersion]] = {}
        self.calls = 0

    # runs
    def experiment_ids(self) -> list[str]:
        if self._experiments is None:
            self.calls += 1
            self._experiments = [e.experiment_id for e in self.store.experiments(deleted=True)]
        return self._experiments

    def search_runs(self, filter_string: str, limit: int | None = None) -> list[Run]:
        """Active runs of every experiment matching ``filter_string``, at most ``limit``
        (cached)."""
        if (filter_string, limit) not in self._searches:
            experiments = self.experiment_ids()
            self.calls += 1
            found: list[Run] = (self.store.runs(experiments, filter_string, limit=limit)
                                if experiments else [])
            for run in found:
                self.runs[run.info.run_id] = run
            self._searches[filter_string, limit] = found
        return self._searches[filter_string, limit]

    def runs_tagged(self, tag: str, values: Iterable[str]) -> dict[str, list[Run]]:
        """Runs whose tag ``tag`` has each of ``values``, by value; several values in one
        search (see ``_tagged``)."""
        return _tagged(tag, values, self.search_runs, lambda run: run.data.tags)

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
    def search_versions(self, filter_string: str,
                        limit: int | None = None) -> list[ModelVersion]:
        """Model versions matching ``filter_string``, at most ``limit`` (cached)."""
        if (filter_string, limit) not in self._version_searches:
            self.calls += 1
            found: list[ModelVersion] = self.store.model_versions(filter_string, limit=limit)
            for mv in found:
                self.versions[(mv.name, str(mv.version))] = mv
            self._version_searches[filter_string, limit] = found
        return self._version_searches[filter_string, limit]

    def versions_tagged(self, tag: str, values: Iterable[str]) -> dict[str, list[ModelVersion]]:
        """Model versions whose tag ``tag`` has each of ``values``, by value; several values
        in one search (see ``_tagged``)."""
        return _tagged(tag, values, self.search_versions, lambda mv: mv.tags)

    def get_version(self, name: str, version: str) -> ModelVersion | None:
        key = (name, str(version))
        if key not in self.versions:
            self.calls += 1
            try:
                self._got_version(self.store.model_version(name, version))
            except (NotFoundError, PermanentStoreError):
                self.versions[key] = None
        return self.versions[key]

    def _got_version(self, mv: ModelVersion) -> None:
        """Keep a version read on its own: MLflow's ``get_model_version`` gives its aliases
        (its ``search_model_versions`` leaves them empty, so those are read from the model)."""
        key = (mv.name, str(mv.version))
        self.versions[key] = mv
        self._version_aliases[key] = [str(a) for a in mv.aliases]

    def aliases(self, name: str, version: str) -> list[str]:
        """Aliases of ``name/version``: those its own read gave, else its model's (one
        registered-model read per model name, unless :meth:`read_ahead` read it)."""
        given = self._version_aliases.get((name, str(version)))
        if given is not None:
            return sorted(given)
        if name not in self._aliases:
            self.calls += 1
            try:
                self._keep_aliases(name, self.store.registered_model(name).aliases)
            except NotFoundError:
                self._aliases[name] = {}
        return sorted(self._aliases[name].get(str(version), []))

    def _keep_aliases(self, name: str, aliases: dict[str, Any]) -> None:
        by_version: dict[str, list[str]] = {}
        for alias, v in aliases.items():
            by_version.setdefault(str(v), []).append(str(alias))
        self._aliases[name] = by_version

    def read_ahead(self, entities: Iterable[Any]) -> None:
        """Read in bulk what the nodes of a level's ``entities`` will ask for one by one: the
        aliases of their model versions' models, in one search per 100 names."""
        names = sorted({e.name for e in entities if _is_version(e)
                        and (e.name, str(e.version)) not in self._version_aliases
                        and e.name not in self._aliases})
        for i in range(0, len(names), NAMES_PER_SEARCH):
            chunk = names[i:i + NAMES_PER_SEARCH]
            self.calls += 1
            found = self.store.registered_models(
                f"name IN ({', '.join(quote(n) for n in chunk)})")
            for model in found:
                self._keep_aliases(model.name, model.aliases)
            for name in chunk:
                self._aliases.setdefault(name, {})

    # models by reference
    def resolve_version(self, ref: str) -> ModelVersion:
        """The model version ``ref`` names (``churn``, ``churn@prod``, ``churn/3``): by number
        or alias in one read; otherwise, or when that finds nothing, as
        :func:`~nbops.registry.resolve.resolve_version` does (its errors name what exists)."""
        spec = parse_ref(ref)
        mv: ModelVersion | None = None
        if spec.version is not None:
            mv = self.get_version(spec.name, spec.version)
        elif spec.alias is not None and spec.alias.lower() != "latest":
            self.calls += 1
            try:
                mv = self.store.model_version_by_alias(spec.name, spec.alias)
                self._got_version(mv)
            except (NotFoundError, PermanentStoreError):  # no such model or alias
                pass
        if mv is None:
            self.calls += 2  # the model, then its version
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


def _is_version(entity: Any) -> bool:
    """Whether a lineage entity is a model version (not a run, not a dataset version)."""
    return hasattr(entity, "aliases") and hasattr(entity, "version")


def _tagged(tag: str, values: Iterable[str], search: Callable[..., list[E]],
            tags_of: Callable[[E], dict[str, str]]) -> dict[str, list[E]]:
    """Entities whose tag ``tag`` has each of ``values``, by value, in the order ``search``
    returns them. Several values are looked up in one search, ``LIKE`` their common prefix,
    then sorted out here; when that search finds more than :data:`PER_VALUE` entities per
    value, each value is searched on its own (MLflow's filter has no ``IN`` for tags)."""
    wanted = list(dict.fromkeys(values))
    if len(wanted) > 1:
        limit = PER_VALUE * len(wanted)
        prefix = os.path.commonprefix(wanted)
        found = search(f"{tag_key(tag)} LIKE {quote(prefix + '%')}", limit=limit + 1)
        if len(found) <= limit:
            by_value: dict[str, list[E]] = {v: [] for v in wanted}
            for entity in found:
                value = tags_of(entity).get(tag)
                if value in by_value:
                    by_value[value].append(entity)
            return by_value
    return {v: search(f"{tag_key(tag)} = {quote(v)}") for v in wanted}
