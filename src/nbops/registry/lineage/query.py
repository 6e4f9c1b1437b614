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
from typing import TYPE_CHECKING, TypeVar

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
        # aliases: those MLflow gave with a version; the lists handed out; those to read
        self._version_aliases: dict[tuple[str, str], list[str]] = {}
        self._alias_lists: dict[tuple[str, str], list[str]] = {}
        self._alias_wanted: set[tuple[str, str]] = set()
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
        """The aliases of ``name/version``, in a list this query completes: now when MLflow
        gave them with the version, else in :meth:`read_aliases`, which reads them for every
        model asked about in one request (the walk calls it when it ends)."""
        key = (name, str(version))
        if key not in self._alias_lists:
            given = self._version_aliases.get(key)
            self._alias_lists[key] = sorted(given) if given is not None else []
            if given is None:
                self._alias_wanted.add(key)
        return self._alias_lists[key]

    def read_aliases(self) -> None:
        """Fill the alias lists :meth:`aliases` handed out: one search of registered models
        per 100 model names (``name IN (...)``), not one read per model."""
        names = sorted({name for name, _ in self._alias_wanted})
        by_model: dict[str, dict[str, list[str]]] = {name: {} for name in names}
        for i in range(0, len(names), NAMES_PER_SEARCH):
            self.calls += 1
            chunk = ", ".join(quote(n) for n in names[i:i + NAMES_PER_SEARCH])
            for model in self.store.registered_models(f"name IN ({chunk})"):
                for alias, v in model.aliases.items():
                    by_model[model.name].setdefault(str(v), []).append(str(alias))
        for name, version in self._alias_wanted:
            self._alias_lists[name, version][:] = sorted(by_model[name].get(version, []))
        self._alias_wanted.clear()

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


def _tagged(tag: str, values: Iterable[str], search: Callable[..., list[E]],
            tags_of: Callable[[E], dict[str, str]]) -> dict[str, list[E]]:
    """Entities whose tag ``tag`` has each of ``values``, by value, in the order ``search``
    returns them. Several values are looked up in one search, ``LIKE`` their common prefix,
    then sorted out here; when that search finds more than :data:`PER_VALUE` entities per
    value, each value is searched on its own (MLflow's filter has no ``IN`` for tags)."""
    wanted = list(dict.fromkeys(values))
    if len(wanted) > 1:
        limit = PER_VALUE * len(wanted)
        # ``_`` and ``%`` in the prefix only widen the search; a backslash escapes on
        # PostgreSQL, so the prefix ends before one
        prefix = os.path.commonprefix(wanted).split("\\")[0]
        found = search(f"{tag_key(tag)} LIKE {quote(prefix + '%')}", limit=limit + 1)
        if len(found) <= limit:
            by_value: dict[str, list[E]] = {v: [] for v in wanted}
            for entity in found:
                value = tags_of(entity).get(tag)
                if value in by_value:
                    by_value[value].append(entity)
            return by_value
    return {v: search(f"{tag_key(tag)} = {quote(v)}") for v in wanted}
