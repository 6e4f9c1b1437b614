"""The registry API: models, versions, aliases (audited), tags and descriptions.

Every alias change goes through :func:`set_alias`, :func:`delete_alias` or :func:`rollback` and
leaves one audit record (see :mod:`nbops.registry.audit`); :func:`history` reads them back.

An alias move and its record are one operation against the store, with the store as the
arbiter between writers (on one machine or many)::

    1. read the model: where the alias points, its audit chain (head = newest move record)
    2. the chain is unsettled (the head is recorded but not applied yet, or two records follow
       the same one: a race's loser has not taken its record back yet), and that is younger
       than LEASE_S: another writer is mid-move; wait, then read again
    3. check ``expected_current`` against where the alias points  -> ConflictError(current)
    4. write the record (``prev`` = the head): record first, so a crash leaves a record
       without a move (readers flag it, see ``audit.mark_applied``), never a move without one
    5. read the chain again: a move record that was not there in 1 is a rival writer; take
       ours back (delete the tag), wait a random moment and start again from 1
    6. move the alias

Two writers racing from one state cannot both pass 5 (each reads after its own write, so at
least one sees the other), so at most one moves; a writer that lost sees the winner's move in
1/3 and fails with :class:`~nbops.exceptions.ConflictError`, or follows it in the chain. Writers
of one machine also queue on a lock file keyed on the store (``audit.writer_lock``), so they do
not even collide.

Example:
    >>> from nbops import registry
    >>> registry.set_alias("churn", "prod", 3, reason="AUC 0.91 > 0.88")   # doctest: +SKIP
    >>> registry.rollback("churn", "prod", reason="latency regression")     # doctest: +SKIP
    >>> [(r.action, r.from_version, r.to_version) for r in registry.history("churn")]
    ... # doctest: +SKIP
    [('set', None, '3'), ('rollback', '3', '2')]

Every function takes an optional ``store`` (an :class:`nbops.store.Store`); without it the store
of the nbops settings in force is used.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from nbops.exceptions import ConflictError, NotFoundError, PermanentStoreError, UsageError, closest
from nbops.registry.audit import (
    AUDIT_PREFIX,
    MOVES,
    AuditRecord,
    last_millis,
    new_record,
    records_from_tags,
    writer_lock,
)
from nbops.registry.info import ModelInfo, Page, VersionInfo, model_info, user_tags, version_info
from nbops.registry.resolve import get_version, quote, registered_model
from nbops.registry.writes import registry_writes_allowed
from nbops.store import Store, open_store

if TYPE_CHECKING:
    from nbops.store.types import ModelVersion

__all__ = [
    "ModelInfo",
    "Page",
    "VersionInfo",
    "delete_alias",
    "delete_tag",
    "history",
    "list_models",
    "rollback",
    "set_alias",
    "set_description",
    "set_tag",
    "versions",
]

# -- models and versions ----------------------------------------------------------------------


def list_models(
    search: str | None = None,
    *,
    max_results: int = 100,
    page_token: str | None = None,
    store: Store | None = None,
) -> Page:
    """Registered models, by name; a :class:`Page` of :class:`ModelInfo`.

    ``search`` is a case-insensitive part of the name (``"churn"``) or an MLflow filter
    (``"tags.team = 'vision'"``). Pass ``page.next_page_token`` back as ``page_token`` for more.

    Example:
        >>> page = list_models("churn")                  # doctest: +SKIP
        >>> [m.name for m in page], page.next_page_token  # doctest: +SKIP
        (['churn', 'churn-onnx'], None)
    """
    if not 1 <= max_results <= 1000:
        raise UsageError(f"max_results must be between 1 and 1000; got {max_results}.")
    store = store or open_store()
    filter_string = None
    if search:
        looks_like_filter = any(op in search.lower() for op in ("=", " like ", "tags."))
        filter_string = search if looks_like_filter else f"name ILIKE {quote(f'%{search}%')}"
    try:  # one page: the caller pages on with page.next_page_token
        page = store.call("listing registered models", store.client.search_registered_models,
                          filter_string=filter_string, max_results=max_results,
                          order_by=["name ASC"], page_token=page_token)
    except PermanentStoreError as exc:
        raise UsageError(f"Cannot search models with {search!r}: {exc} Use part of a "
                         "name, or a filter like \"tags.team = 'vision'\".") from None
    return Page([model_info(m) for m in page], page.token or None)


def versions(name: str, *, store: Store | None = None) -> list[VersionInfo]:
    """Every version of model ``name``, newest first, with its aliases.

    Example:
        >>> [v.version for v in versions("churn")]   # doctest: +SKIP
        ['3', '2', '1']
    """
    store = store or open_store()
    model = registered_model(name, store)
    by_version: dict[str, list[str]] = {}
    for alias, version in model.aliases.items():
        by_version.setdefault(str(version), []).append(str(alias))
    found: list[ModelVersion] = store.model_versions(f"name = {quote(name)}",
                                                     order_by=["version_number DESC"])
    return [version_info(mv, by_version.get(str(mv.version), [])) for mv in found]


# -- aliases (audited) ------------------------------------------------------------------------


#: How long a move record may wait for its move before other writers take it as abandoned.
LEASE_S = 10.0
#: How many times a writer starts again after colliding with another one.
ATTEMPTS = 8


def _check_alias(alias: str) -> None:
    if not isinstance(alias, str) or not alias.strip():
        raise UsageError(f"An alias must be a non-empty string like 'prod'; got {alias!r}.")
    if alias.lower() == "latest":
        raise UsageError("'latest' is reserved by MLflow (it always means the newest version); "
                         "choose another alias, e.g. 'prod' or 'champion'.")


def _write(store: Store, name: str, record: AuditRecord) -> None:
    store.set_model_tag(name, record.key, record.to_json())


def _point(store: Store, name: str, alias: str, version: str) -> None:
    try:
        store.set_alias(name, alias, str(version))
    except PermanentStoreError as exc:
        raise UsageError(f"MLflow refused alias {alias!r}: {exc} Use letters, digits, "
                         "'_' and '-' (e.g. 'prod', 'champion').") from None


def set_alias(
    name: str,
    alias: str,
    version: str | int,
    reason: str | None = None,
    *,
    expected_current: str | int | None = None,
    store: Store | None = None,
) -> AuditRecord:
    """Point ``alias`` of model ``name`` at ``version`` and record the change; return the record.

    ``expected_current`` is the version you saw the alias on (``""``: not set): when the alias
    points elsewhere at the moment of the move, nothing moves and :class:`ConflictError` says
    where it points (``.current``). Without it the alias moves wherever it is.

    Example:
        >>> rec = set_alias("churn", "prod", 3, reason="AUC 0.91")   # doctest: +SKIP
        >>> rec.from_version, rec.to_version                          # doctest: +SKIP
        ('2', '3')
        >>> set_alias("churn", "prod", 4, expected_current=2)         # doctest: +SKIP
        ConflictError: Alias 'prod' of 'churn' points at v3, not v2 as expected: ...
    """
    _check_alias(alias)
    store = store or open_store()
    registered_model(name, store)
    version = str(get_version(name, str(version), store).version)
    return _move(store, name, alias, lambda current, records: version, "set", reason,
                 **_expecting(expected_current))


def _expecting(expected_current: str | int | None) -> dict[str, Any]:
    """``_move``'s check of where the alias points: none when ``expected_current`` is None;
    ``""`` expects the alias unset."""
    if expected_current is None:
        return {}
    return {"expect": True, "expected": str(expected_current).strip() or None}


def delete_alias(
    name: str,
    alias: str,
    reason: str | None = None,
    *,
    expected_current: str | int | None = None,
    store: Store | None = None,
) -> AuditRecord:
    """Remove ``alias`` from model ``name`` and record it; return the record.

    ``expected_current``: the version you saw the alias on, checked as in :func:`set_alias`.

    Example:
        >>> delete_alias("churn", "staging", reason="retired")   # doctest: +SKIP
    """
    _check_alias(alias)
    store = store or open_store()
    model = registered_model(name, store)
    if alias not in model.aliases:
        aliases = sorted(str(a) for a in model.aliases)
        known = f" Its aliases: {', '.join(aliases)}." if aliases else " It has no aliases."
        raise NotFoundError(f"Model {name!r} has no alias {alias!r}.{closest(alias, aliases)}"
                            f"{known}")
    return _move(store, name, alias, lambda current, records: None, "delete", reason,
                 **_expecting(expected_current))


def history(
    name: str,
    alias: str | None = None,
    *,
    store: Store | None = None,
) -> list[AuditRecord]:
    """The audit records of model ``name`` (of one ``alias`` if given), oldest first.

    Example:
        >>> for rec in history("churn", "prod"):   # doctest: +SKIP
        ...     print(rec.when, rec.who, rec.action, rec.from_version, "->", rec.to_version)
    """
    model = registered_model(name, store or open_store())
    return records_from_tags(model.tags, alias, model.aliases)


def rollback(
    name: str,
    alias: str,
    reason: str | None = None,
    *,
    expected_current: str | int | None = None,
    store: Store | None = None,
) -> AuditRecord:
    """Move ``alias`` back to the version it pointed to before its latest change; record it.

    The latest change is the newest audit record of the alias that changed its version. When the
    alias was moved outside nbops since (MLflow UI), it goes back to the version that record set.
    A rollback is itself a change: rolling back twice returns to where you started, so two
    people rolling back at once would undo each other; ``expected_current`` (the version you
    saw the alias on, checked as in :func:`set_alias`) makes the second one fail instead.

    Example:
        >>> set_alias("churn", "prod", 2); set_alias("churn", "prod", 3)   # doctest: +SKIP
        >>> rollback("churn", "prod").to_version                          # doctest: +SKIP
        '2'
    """
    _check_alias(alias)
    store = store or open_store()
    registered_model(name, store)

    def target(current: str | None, records: list[AuditRecord]) -> str | None:
        changes = [r for r in records if r.from_version != r.to_version]
        if not changes:
            raise UsageError(
                f"Alias {alias!r} of model {name!r} has no recorded change to roll back: nbops "
                "audits changes made with set_alias / `nbops registry alias set`. Point it with "
                f"`nbops registry alias set {name} {alias} VERSION`."
            )
        last = changes[-1]
        if current != last.to_version:  # moved outside nbops since: back to what nbops set
            goal = last.to_version
        else:
            goal = last.from_version
        if goal is None:
            raise UsageError(
                f"Alias {alias!r} of model {name!r} has no earlier version to roll back to: its "
                f"latest change ({last.action} to v{last.to_version} by {last.who} at "
                f"{last.when}) created it. Point it elsewhere with `nbops registry alias set` "
                "or remove it with `nbops registry alias delete`."
            )
        get_version(name, goal, store)  # the earlier version may have been deleted
        return goal

    return _move(store, name, alias, target, "rollback", reason, **_expecting(expected_current))


def _move(store: Store, name: str, alias: str, choose: Any, action: str,
          reason: str | None, *, expect: bool = False,
          expected: str | None = None) -> AuditRecord:
    """Move ``alias`` to ``choose(current, applied records)`` and record it, by the protocol in
    this module's docstring; with ``expect``, only when the alias points at ``expected``.

    With registry writes off (``nbops reproduce``) the alias stays where it is and nothing is
    written; the record returned says so (``from_version == to_version``)."""
    with writer_lock(store.tracking_uri):
        for attempt in range(ATTEMPTS):
            model, current, chain = _read(store, name, alias)
            if expect and current != expected:
                raise ConflictError(
                    f"Alias {alias!r} of {name!r} points at {_v(current)}, not {_v(expected)} "
                    "as expected: someone moved it meanwhile. Look at where it points now "
                    f"(`nbops registry versions {name}`) and decide again.", current=current)
            if not registry_writes_allowed(f"{action} of alias {alias!r} of model {name!r}"):
                return new_record(alias, current, current, action,
                                  "not applied: registry writes are off", last_millis(model.tags))
            goal = choose(current, [r for r in chain if r.applied])
            record = new_record(alias, current, goal, action, reason, last_millis(model.tags),
                                prev=chain[-1].key if chain else None)
            _write(store, name, record)  # the record first: never a move without a record
            seen = {r.key for r in chain} | {record.key}
            _, _, now = _read(store, name, alias, wait=False)
            if not [r for r in now if r.key not in seen]:
                if goal is None:
                    if current is not None:
                        store.delete_alias(name, alias)
                else:
                    _point(store, name, alias, goal)
                return record
            # A rival wrote a move record between our read and our check: take ours back and
            # start again (it may have won; if both lost, the random wait breaks the tie).
            store.delete_model_tag(name, record.key)
            time.sleep(random.uniform(0.02, 0.1) * 2 ** min(attempt, 4))
    raise ConflictError(
        f"Alias {alias!r} of {name!r} kept being moved by other writers during {ATTEMPTS} "
        "attempts; nothing was changed. Look at its history (`nbops registry history "
        f"{name}`) and try again.", current=current)


def _read(store: Store, name: str, alias: str,
          wait: bool = True) -> tuple[Any, str | None, list[AuditRecord]]:
    """The model, where ``alias`` points, and the alias's move records (oldest first). With
    ``wait``, waits while the newest record is a move another writer has recorded but not made
    yet (at most until the record is LEASE_S old: then it is taken as abandoned)."""
    deadline = time.monotonic() + (LEASE_S if wait else 0.0)
    while True:
        model = store.registered_model(name)
        current = model.aliases.get(alias)
        current = None if current is None else str(current)
        chain = [r for r in records_from_tags(model.tags, alias, model.aliases)
                 if r.action in MOVES]
        if not _unsettled(chain) or time.monotonic() >= deadline:
            return model, current, chain
        time.sleep(0.05)


def _unsettled(chain: list[AuditRecord]) -> bool:
    """Whether another writer is (or was, less than LEASE_S ago) in the middle of a move:
    the newest record is not applied yet, or two records follow the same one (a writer that
    lost a race has not taken its record back yet)."""
    young = time.time() * 1000 - LEASE_S * 1000
    if chain and not chain[-1].applied and chain[-1].millis > young:
        return True
    follows = [r.prev for r in chain if r.millis > young]
    return len(follows) != len(set(follows))


def _v(version: str | None) -> str:
    return f"v{version}" if version else "nothing"


# -- tags and descriptions --------------------------------------------------------------------


def _check_tag_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise UsageError(f"A tag key must be a non-empty string; got {key!r}.")
    if key.startswith(AUDIT_PREFIX):
        raise UsageError(f"Tag {key!r} is an alias audit record; nbops writes those itself and "
                         "never edits them. Use another key.")


def set_tag(
    name: str,
    key: str,
    value: Any,
    version: str | int | None = None,
    *,
    store: Store | None = None,
) -> None:
    """Set a tag on model ``name``, or on one of its versions when ``version`` is given.

    Example:
        >>> set_tag("churn", "team", "vision")                 # doctest: +SKIP
        >>> set_tag("churn", "validated", "true", version=3)   # doctest: +SKIP
    """
    _check_tag_key(key)
    store = store or open_store()
    registered_model(name, store)
    if version is None:
        store.set_model_tag(name, key, str(value))
    else:
        get_version(name, str(version), store)
        store.set_version_tag(name, version, key, str(value))


def delete_tag(
    name: str,
    key: str,
    version: str | int | None = None,
    *,
    store: Store | None = None,
) -> None:
    """Delete a tag of model ``name`` (or of one version); NotFoundError when it is not set.

    Example:
        >>> delete_tag("churn", "team")   # doctest: +SKIP
    """
    _check_tag_key(key)
    store = store or open_store()
    model = registered_model(name, store)
    if version is None:
        tags, where = model.tags, f"model {name!r}"
    else:
        tags, where = get_version(name, str(version), store).tags, f"{name}/{version}"
    if key not in tags:
        user = user_tags(tags)
        raise NotFoundError(f"{where} has no tag {key!r}.{closest(key, user)} Its tags: "
                            f"{', '.join(user) or 'none'}.")
    if version is None:
        store.delete_model_tag(name, key)
    else:
        store.delete_version_tag(name, version, key)


def set_description(
    name: str,
    description: str,
    version: str | int | None = None,
    *,
    store: Store | None = None,
) -> None:
    """Set the description of model ``name`` (or of one version).

    Example:
        >>> set_description("churn", "Monthly churn classifier")   # doctest: +SKIP
    """
    store = store or open_store()
    registered_model(name, store)
    if version is None:
        store.describe_model(name, str(description))
    else:
        get_version(name, str(version), store)
        store.describe_version(name, version, str(description))
