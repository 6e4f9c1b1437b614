"""MLflow access of one lineage query, with a cache: every entity is fetched at most once.

This is the only module of the lineage code that talks to MLflow: the finders of the
relations, the root resolution and the walk ask a :class:`Query`, never a client.

Example:
    >>> q = Query()                                             # doctest: +SKIP
    >>> q.search_runs("tags.`mlflow.parentRunId` = 'abc'")      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from nbops.registry._store import call, client_for, error_code
from nbops.registry.resolve import model_names, quote, resolve_version

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

__all__ = ["Query", "tag_key"]


def tag_key(key: str) -> str:
    """``key`` as a tag in an MLflow search filter (quoted: nbops tag keys contain dots)."""
    return f"tags.`{key}`"


class Query:
    """MLflow access for one lineage query; every entity is fetched at most once."""

    def __init__(self, client: MlflowClient | None = None) -> None:
        self.client = client_for(client)
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
            from mlflow.entities import ViewType

            ids: list[str] = []
            token = None
            while True:
                self.calls += 1
                page = call(self.client, "listing experiments", self.client.search_experiments,
                            view_type=ViewType.ALL, max_results=1000, page_token=token)
                ids.extend(e.experiment_id for e in page)
                token = page.token
                if not token:
                    break
            self._experiments = ids
        return self._experiments

    def search_runs(self, filter_string: str) -> list[Run]:
        """Active runs of every experiment matching ``filter_string`` (cached)."""
        if filter_string not in self._searches:
            found: list[Run] = []
            experiments = self.experiment_ids()
            token = None
            while experiments:
                self.calls += 1
                page = call(self.client, "searching runs", self.client.search_runs,
                            experiments, filter_string=filter_string, max_results=10000,
                            page_token=token)
                found.extend(page)
                token = page.token
                if not token:
                    break
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
        from mlflow.exceptions import MlflowException

        self.calls += 1
        try:
            return call(self.client, f"reading run {run_id}", self.client.get_run, run_id)
        except MlflowException as exc:
            if error_code(exc) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    # model versions
    def search_versions(self, filter_string: str) -> list[ModelVersion]:
        if filter_string not in self._version_searches:
            found: list[ModelVersion] = []
            token = None
            while True:
                self.calls += 1
                page = call(self.client, "searching model versions",
                            self.client.search_model_versions, filter_string,
                            max_results=10000, page_token=token)
                found.extend(page)
                token = page.token
                if not token:
                    break
            for mv in found:
                self.versions[(mv.name, str(mv.version))] = mv
            self._version_searches[filter_string] = found
        return self._version_searches[filter_string]

    def get_version(self, name: str, version: str) -> ModelVersion | None:
        key = (name, str(version))
        if key not in self.versions:
            from mlflow.exceptions import MlflowException

            self.calls += 1
            try:
                self.versions[key] = call(self.client, f"reading {name}/{version}",
                                          self.client.get_model_version, name, str(version))
            except MlflowException as exc:
                if error_code(exc) not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                    raise
                self.versions[key] = None
        return self.versions[key]

    def aliases(self, name: str, version: str) -> list[str]:
        """Aliases of ``name/version`` (one registered-model read per model name)."""
        if name not in self._aliases:
            from mlflow.exceptions import MlflowException

            by_version: dict[str, list[str]] = {}
            self.calls += 1
            try:
                model = call(self.client, f"reading model {name}",
                             self.client.get_registered_model, name)
                for alias, v in model.aliases.items():
                    by_version.setdefault(str(v), []).append(str(alias))
            except MlflowException:  # no such model (an outage raised StoreUnavailableError)
                pass
            self._aliases[name] = by_version
        return sorted(self._aliases[name].get(str(version), []))

    # models by reference
    def resolve_version(self, ref: str) -> ModelVersion:
        """The model version ``ref`` names (``churn``, ``churn@prod``, ``churn/3``)."""
        self.calls += 1
        mv = resolve_version(ref, client=self.client)
        self.versions.setdefault((mv.name, str(mv.version)), mv)
        return mv

    def model_names(self) -> list[str]:
        """Names of the registered models (for suggestions in error messages)."""
        self.calls += 1
        return model_names(self.client)

    def remember(self, entity: Run | ModelVersion) -> None:
        """Keep a run or model version found some other way, so it is not fetched again."""
        if hasattr(entity, "info"):
            self.runs.setdefault(entity.info.run_id, entity)
        else:
            self.versions.setdefault((entity.name, str(entity.version)), entity)
