"""The registry as the sidebar and the widgets see it: blocking reads and audited alias moves.

:class:`RegistryService` reads registered models, versions, runs and lineage over one
``MlflowClient`` and returns the dataclasses below; alias moves and rollbacks go through
:mod:`nbops.registry.api`, so a move from the UI is audited exactly like one from the CLI. The
notebook widgets call it directly; the server extension (:mod:`nbops.server`) runs it on its
thread pool and writes its results as JSON (``dataclasses.asdict``), which makes these
dataclasses part of the REST API's wire contract (:mod:`nbops.server.contract`).

Example:
    >>> svc = RegistryService("sqlite:///.nbops/mlflow.db")  # doctest: +SKIP
    >>> page = svc.list_models(search="churn", max_results=20)  # doctest: +SKIP
    >>> [m.name for m in page.models]  # doctest: +SKIP
    ['churn-xgb']
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nbops.exceptions import ConflictError, NotFoundError, UsageError
from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store import Store

__all__ = [
    "MAX_PAGE",
    "STATUS_SEVERITY",
    "AliasChange",
    "AuditEntry",
    "ModelDetail",
    "ModelPage",
    "ModelSummary",
    "MonitorStatus",
    "RegistryService",
    "RunComparison",
    "RunPage",
    "RunSummary",
    "VersionInfo",
    "check_run_id",
    "lineage_payload",
    "to_json",
]

# -- what the service returns (times ISO 8601 UTC strings; versions strings, as MLflow's) ------


@dataclass(frozen=True)
class MonitorStatus:
    """The ``nbops.monitor.*`` tags of one model version."""

    status: str  # ok | warning | drift | error
    version: str
    report_run_id: str | None = None
    checked_at: str | None = None


@dataclass(frozen=True)
class ModelSummary:
    """One registered model in the list (``GET models``)."""

    name: str
    description: str
    aliases: dict[str, str]  # alias -> version
    latest_version: str | None
    tags: dict[str, str]  # user tags; nbops.audit.* entries are left out
    status: MonitorStatus | None  # worst status over the aliased and latest versions
    updated_at: str | None


@dataclass(frozen=True)
class ModelPage:
    models: list[ModelSummary]
    next_page_token: str | None


@dataclass(frozen=True)
class VersionInfo:
    """One version of a model with its source run's final metrics."""

    version: str
    created_at: str | None
    source_run_id: str | None
    run_metrics: dict[str, float]
    tags: dict[str, str]
    aliases: list[str]
    status: MonitorStatus | None
    description: str
    source: str  # the model's artifact URI as MLflow stores it


@dataclass(frozen=True)
class AuditEntry:
    """One alias move, as written by ``nbops.registry`` (tag ``nbops.audit.<ms>.<hex>``)."""

    alias: str
    from_version: str | None
    to_version: str | None
    when: str
    who: str
    reason: str | None
    action: str  # set | delete | rollback | serve (a server of `nbops serve` followed a move)


@dataclass(frozen=True)
class ModelDetail:
    """``GET models/<name>``: versions newest first, audit history newest first."""

    name: str
    description: str
    aliases: dict[str, str]
    tags: dict[str, str]
    versions: list[VersionInfo]
    history: list[AuditEntry]
    #: alias -> the version "Rollback" would restore; aliases with no earlier version are absent
    rollback_targets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: str | None
    end_time: str | None
    params: dict[str, str]
    metrics: dict[str, float]  # final (latest) value of each metric
    tags: dict[str, str]  # nbops.* and mlflow.source.* tags only


@dataclass(frozen=True)
class RunPage:
    runs: list[RunSummary]
    next_page_token: str | None


@dataclass(frozen=True)
class RunComparison:
    """``GET runs/compare``: the runs side by side, keys sorted, differing params named."""

    runs: list[RunSummary]
    param_keys: list[str]
    metric_keys: list[str]
    differing_params: list[str]


@dataclass(frozen=True)
class AliasChange:
    """Answer to a promote or rollback: where the alias points now and the audit entry."""

    name: str
    alias: str
    version: str
    previous_version: str | None
    action: str
    entry: AuditEntry | None = None


def to_json(obj: Any) -> Any:
    """A dataclass of this module (or a list of them) as plain JSON-ready data."""
    if isinstance(obj, list):
        return [to_json(o) for o in obj]
    return asdict(obj)


# -- the alias audit trail (format and parsing: nbops.registry.audit) ------------------------

_AUDIT_PREFIX = T.AUDIT_PREFIX


def _user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A model's tags without the audit entries."""
    return {k: v for k, v in sorted(tags.items()) if not k.startswith(_AUDIT_PREFIX)}


def _entry(data: Mapping[str, Any]) -> AuditEntry:
    """An :class:`AuditEntry` from one audit record's stored JSON (``AuditRecord.to_dict()``)."""
    return AuditEntry(alias=str(data["alias"]), from_version=data.get("from_version") or None,
                      to_version=data.get("to_version") or None, when=str(data.get("when", "")),
                      who=str(data.get("who", "")), reason=data.get("reason") or None,
                      action=str(data.get("action", "set")))


def _entries_from_tags(tags: Mapping[str, str]) -> list[AuditEntry]:
    """Audit entries newest first; malformed tags are skipped, never fatal."""
    from nbops.registry.audit import records_from_tags

    return [_entry(r.to_dict()) for r in reversed(records_from_tags(tags))]


# -- the service ------------------------------------------------------------------------------

MAX_PAGE = 1000
#: Worst first: the model's headline status is the worst of its aliased and latest versions.
STATUS_SEVERITY = {"error": 3, "drift": 2, "warning": 1, "ok": 0}
_TAG_STATUS = T.MONITOR_STATUS
_TAG_REPORT = T.MONITOR_REPORT_RUN
_TAG_CHECKED = T.MONITOR_CHECKED_AT
_ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,254}$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_RUN_TAG_PREFIXES = ("nbops.", "mlflow.source.", T.RUN_NAME, T.PARENT_RUN)


def iso_ms(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC (None stays None)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _token(token: Any) -> str | None:
    if not token:
        return None
    return token.decode() if isinstance(token, bytes) else str(token)


def check_page_token(token: str | None) -> str | None:
    """``token`` when it has the shape of an MLflow page token (base64 JSON); else UsageError."""
    if not token:
        return None
    try:
        decoded = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError):
        decoded = None
    if not isinstance(decoded, dict):
        shown = token if len(token) <= 40 else f"{token[:40]}… ({len(token)} characters)"
        raise UsageError(f"page_token {shown!r} is not a page token this API gave out: pass "
                         "back next_page_token of the previous page unchanged, or leave "
                         "page_token out to start from the first page.")
    return token


def _is_filter(search: str) -> bool:
    """Whether ``search`` is an MLflow filter rather than part of a name (as nbops.registry)."""
    return any(op in search.lower() for op in ("=", " like ", "tags."))


def page_size(value: int | str | None, default: int = 50) -> int:
    """Validate a ``max_results`` value (1..1000)."""
    if value in (None, ""):
        return default
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"max_results must be a whole number from 1 to {MAX_PAGE}, "
                         f"got {value!r}.") from None
    if not 1 <= size <= MAX_PAGE:
        raise UsageError(f"max_results must be from 1 to {MAX_PAGE}, got {size}.")
    return size


def monitor_status(tags: dict[str, str], version: str) -> MonitorStatus | None:
    """The monitoring status carried by a model version's tags, if any."""
    status = tags.get(_TAG_STATUS)
    if not status:
        return None
    return MonitorStatus(status=status, version=str(version), report_run_id=tags.get(_TAG_REPORT),
                         checked_at=tags.get(_TAG_CHECKED))


def worst(statuses: list[MonitorStatus]) -> MonitorStatus | None:
    """The most severe status (unknown values rank below ok); ties go to the newest version."""
    if not statuses:
        return None
    return max(statuses, key=lambda s: (STATUS_SEVERITY.get(s.status, -1), _vnum(s.version)))


def _vnum(version: Any) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        return -1


class RegistryService:
    """Blocking reads and audited alias writes against one MLflow tracking URI."""

    def __init__(self, tracking_uri: str | None = None, store: Store | None = None) -> None:
        from nbops.config import load_settings
        from nbops.store import open_store

        self.store = store or open_store(load_settings(), tracking_uri=tracking_uri)
        self.tracking_uri = self.store.tracking_uri

    # -- models -------------------------------------------------------------------------------
    def list_models(self, search: str | None = None, max_results: int | str | None = None,
                    page_token: str | None = None) -> ModelPage:
        """One page of registered models by name, with aliases and monitoring status."""
        size = page_size(max_results)
        page, next_token = self._search_models((search or "").strip(), size,
                                               check_page_token(page_token))
        watched = {m.name: {*m.aliases.values(), *([m.latest_version] if m.latest_version else [])}
                   for m in page}
        statuses = self._statuses(list(watched)) if page else {}
        models = [ModelSummary(
            name=m.name, description=m.description, aliases=dict(m.aliases),
            latest_version=m.latest_version, tags=dict(m.tags),
            status=worst([s for (n, v), s in statuses.items()
                          if n == m.name and v in watched[m.name]]),
            updated_at=m.updated_at) for m in page]
        return ModelPage(models=models, next_page_token=next_token)

    def _search_models(self, search: str, size: int, token: str | None) -> tuple[list[Any], str | None]:
        """Models whose name contains ``search`` (or match an MLflow filter), and the next token.

        MLflow's LIKE has no escape character, so a search holding the wildcards ``%`` or ``_``
        asks the store for a superset (each wildcard as "any one character") and keeps the names
        that really contain the text; that page may then hold up to ``2 * size - 1`` models.
        """
        from nbops.registry import api

        literal = bool(search) and not _is_filter(search) and any(c in search for c in "%_")
        if not literal:
            page = api.list_models(search or None, max_results=size, page_token=token,
                                   store=self.store)
            return list(page), _token(page.next_page_token)
        wide = search.replace("%", "_")
        found: list[Any] = []
        while True:
            page = api.list_models(wide, max_results=size, page_token=token, store=self.store)
            found += [m for m in page if search.lower() in m.name.lower()]
            token = _token(page.next_page_token)
            if token is None or len(found) >= size:
                return found, token

    def _statuses(self, names: list[str]) -> dict[tuple[str, str], MonitorStatus]:
        """Monitoring status of every tagged version of ``names``, in one query."""
        literal = ", ".join(f"'{n}'" for n in names if "'" not in n)
        if not literal:
            return {}
        found = self.store.model_versions(
            f"name IN ({literal}) AND tags.`{_TAG_STATUS}` LIKE '%'")
        out = {}
        for v in found:
            status = monitor_status(v.tags or {}, str(v.version))
            if status:
                out[(v.name, str(v.version))] = status
        return out

    def model(self, name: str) -> ModelDetail:
        """A model's versions (newest first, with run metrics) and its alias audit history."""
        from nbops.registry import api
        from nbops.registry.resolve import registered_model

        rm = registered_model(name, self.store)
        versions = api.versions(name, store=self.store)
        metrics = self._run_metrics({v.run_id for v in versions if v.run_id})
        infos = [VersionInfo(
            version=v.version, created_at=v.created_at, source_run_id=v.run_id,
            run_metrics=metrics.get(v.run_id or "", {}), tags=v.tags, aliases=v.aliases,
            status=monitor_status(v.tags, v.version), description=v.description,
            source=v.source) for v in versions]
        aliases = {str(a): str(v) for a, v in sorted((rm.aliases or {}).items())}
        history = _entries_from_tags(rm.tags or {})
        return ModelDetail(name=rm.name, description=rm.description or "", aliases=aliases,
                           tags=_user_tags(rm.tags or {}), versions=infos, history=history,
                           rollback_targets=rollback_targets(aliases, history,
                                                             {v.version for v in infos}))

    def history(self, name: str, alias: str | None = None) -> list[AuditEntry]:
        """The alias audit trail, newest first (``nbops.registry.api.history`` reversed)."""
        from nbops.registry import api

        return [_entry(r.to_dict()) for r in
                reversed(api.history(name, alias, store=self.store))]

    def _run_metrics(self, run_ids: set[str]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for run_id in run_ids:
            try:
                out[run_id] = dict(self.store.run(run_id).data.metrics)
            except NotFoundError:
                out[run_id] = {}  # the source run was deleted; the version stays listed
        return out

    # -- alias writes (audited by nbops.registry) ---------------------------------------------
    def _alias_now(self, name: str, alias: str) -> str | None:
        from nbops.registry.resolve import registered_model

        aliases = registered_model(name, self.store).aliases or {}
        return str(aliases[alias]) if alias in aliases else None

    def promote(self, name: str, alias: str, version: str | int, reason: str | None = None,
                expected_current: str | None = None) -> AliasChange:
        """Point ``alias`` at ``version`` through ``nbops.registry.api.set_alias`` (audited).

        ``expected_current`` is the version the caller saw the alias on ("" = unset); when the
        alias moved since, nothing is written and ConflictError (409) is raised.
        """
        from nbops.registry import api

        alias = (alias or "").strip()
        if not _ALIAS_RE.match(alias):
            raise UsageError(f"alias {alias!r} is not valid: use letters, digits, '_' or '-', "
                             "starting with a letter, e.g. 'champion'.")
        version = str(version).strip()
        if not version.isdigit():
            raise UsageError(f"version must be a version number such as '3', got {version!r}.")
        current = self._alias_now(name, alias)
        if expected_current is not None and (expected_current or None) != current:
            raise ConflictError(
                f"Alias {alias!r} of {name!r} now points at "
                f"{'v' + current if current else 'nothing'}, not "
                f"{'v' + expected_current if expected_current else 'nothing'} as shown: someone "
                "moved it meanwhile. Refresh and try again.", current=current)
        if current == str(int(version)):
            raise ConflictError(f"Alias {alias!r} of {name!r} already points at v{current}; "
                                "pick another version.", current=current)
        record = api.set_alias(name, alias, version, reason=reason, store=self.store,
                               expected_current=expected_current)
        return self._change(name, record)

    def rollback(self, name: str, alias: str, reason: str | None = None,
                 expected_current: str | None = None) -> AliasChange:
        """Move ``alias`` back to where it pointed before its last move (audited).

        ``expected_current`` is the version the caller saw the alias on; when the alias moved
        since (another rollback, say), nothing is written and ConflictError (409) is raised.
        """
        from nbops.registry import api

        if alias not in (self._aliases(name)):
            raise NotFoundError(f"Model {name!r} has no alias {alias!r} to roll back.")
        record = api.rollback(name, alias, reason=reason, store=self.store,
                              expected_current=expected_current)
        return self._change(name, record)

    def _aliases(self, name: str) -> dict[str, str]:
        from nbops.registry.resolve import registered_model

        return {str(a): str(v) for a, v in
                (registered_model(name, self.store).aliases or {}).items()}

    @staticmethod
    def _change(name: str, record: Any) -> AliasChange:
        entry = _entry(record.to_dict())
        return AliasChange(name=name, alias=entry.alias, version=entry.to_version or "",
                           previous_version=entry.from_version, action=entry.action, entry=entry)

    # -- runs ---------------------------------------------------------------------------------
    def _experiment_ids(self, experiment: str | None) -> list[str]:
        if experiment:
            exp = self.store.experiment(experiment)
            if exp is None and experiment.isdigit():
                exp = next((e for e in self.store.experiments()
                            if e.experiment_id == experiment), None)
            if exp is None:
                known = [e.name for e in self.store.experiments()]
                from nbops.exceptions import closest

                raise NotFoundError(f"No experiment named {experiment!r}.{closest(experiment, known)}"
                                    " Leave `experiment` empty to search them all.")
            return [exp.experiment_id]
        return [e.experiment_id for e in self.store.experiments()]

    def list_runs(self, experiment: str | None = None, filter_string: str | None = None,
                  max_results: int | str | None = None, page_token: str | None = None) -> RunPage:
        """Runs newest first; ``filter_string`` is MLflow's run filter (``metrics.acc > 0.9``)."""
        size = page_size(max_results)
        ids = self._experiment_ids(experiment)
        if not ids:
            return RunPage(runs=[], next_page_token=None)
        c = self.store.client  # one page: the caller pages on with next_page_token
        page = self.store.call("searching runs", c.search_runs, ids,
                               filter_string=filter_string or "", max_results=size,
                               order_by=["attributes.start_time DESC"],
                               page_token=check_page_token(page_token))
        return RunPage(runs=[run_summary(r) for r in page], next_page_token=_token(page.token))

    def compare_runs(self, ids: list[str]) -> RunComparison:
        """Params and final metrics of 2..20 runs side by side."""
        ids = [i.strip() for i in ids if i.strip()]
        if not 2 <= len(ids) <= 20:
            raise UsageError(f"Give 2 to 20 comma-separated run ids in `ids`, got {len(ids)}.")
        for i in ids:
            check_run_id(i)
        runs = [run_summary(self.store.run(i)) for i in ids]
        param_keys = sorted({k for r in runs for k in r.params})
        metric_keys = sorted({k for r in runs for k in r.metrics})
        differing = [k for k in param_keys if len({r.params.get(k) for r in runs}) > 1]
        return RunComparison(runs=runs, param_keys=param_keys, metric_keys=metric_keys,
                             differing_params=differing)

    # -- lineage ------------------------------------------------------------------------------
    def lineage(self, ref: str, direction: str = "both", depth: int | str = 3) -> dict[str, Any]:
        """The lineage graph around ``ref`` as JSON (nodes + edges), from nbops.registry."""
        if not ref or not ref.strip():
            raise UsageError("Give `ref`, e.g. models:/churn@champion or a run id.")
        direction = {"up": "upstream", "down": "downstream"}.get(direction, direction)
        if direction not in ("both", "upstream", "downstream"):
            raise UsageError(f"direction must be upstream, downstream or both, got {direction!r}.")
        try:
            hops = int(depth)
        except (TypeError, ValueError):
            raise UsageError(f"depth must be a whole number from 0 to 10, got {depth!r}.") from None
        if not 0 <= hops <= 10:
            raise UsageError(f"depth must be from 0 to 10 hops, got {hops}.")
        from nbops.registry.lineage import lineage

        return lineage_payload(lineage(ref.strip(), direction=direction, depth=hops,
                                       store=self.store))


def rollback_targets(aliases: dict[str, str], history: list[AuditEntry],
                     versions: set[str]) -> dict[str, str]:
    """Alias -> the version a rollback would move it to (as ``nbops.registry.api.rollback``).

    The target is the version before the alias's latest audited change, or the version that
    change set when the alias was moved outside nbops since. Aliases with no audited change, no
    earlier version, or whose target version was deleted are left out: nothing to roll back to.
    """
    targets = {}
    for alias, current in aliases.items():
        changes = [e for e in history if e.alias == alias and e.from_version != e.to_version]
        if not changes:
            continue
        last = changes[0]  # history is newest first
        goal = last.to_version if current != last.to_version else last.from_version
        if goal and goal != current and goal in versions:
            targets[alias] = goal
    return targets


def lineage_payload(graph: Any) -> dict[str, Any]:
    """A :class:`~nbops.registry.LineageGraph` as the sidebar and the lineage widget draw it:
    ``LineageGraph.to_dict()`` with ``nodes`` as a list, each placed by
    :func:`nbops.registry.lineage.render.placement`: ``layer`` (column, sources at 0) and ``order`` (row
    within the column). The drawings only turn these into pixels; they compute no layout."""
    from nbops.registry.lineage.render import placement

    data = graph.to_dict()
    nodes = data.get("nodes")
    if isinstance(nodes, dict):  # a by-id mapping becomes a list
        nodes = list(nodes.values())
    where = placement(graph)
    data["nodes"] = [{**n, "layer": where[n["id"]][0], "order": where[n["id"]][1]}
                     for n in nodes]
    return data


def check_run_id(run_id: str) -> str:
    """``run_id`` when it has the shape of an MLflow run id; else UsageError (400)."""
    if not _RUN_ID_RE.match(run_id or ""):
        raise UsageError(f"{run_id!r} is not a run id: expect the 32 hex characters MLflow shows.")
    return run_id


def run_summary(run: Any) -> RunSummary:
    info, data = run.info, run.data
    tags = {k: v for k, v in (data.tags or {}).items() if k.startswith(_RUN_TAG_PREFIXES)}
    return RunSummary(run_id=info.run_id, run_name=info.run_name or "",
                      experiment_id=str(info.experiment_id), status=str(info.status),
                      start_time=iso_ms(info.start_time), end_time=iso_ms(info.end_time),
                      params=dict(data.params or {}), metrics=dict(data.metrics or {}), tags=tags)
