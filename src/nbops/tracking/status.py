"""What ``nbops status`` and ``%nbops status`` print: the settings in force, the store's health,
the spool backlog and every event set aside. Reads the spool and the store file only: no MLflow
import, so it answers at once even when the store is down or broken."""

from __future__ import annotations

from pathlib import Path

from nbops.config import Settings
from nbops.store.embedded import sqlite_path, store_problem
from nbops.tracking.spool import Spool

__all__ = ["store_health", "status_text"]

MAX_LISTED = 20


def store_health(settings: Settings) -> str | None:
    """None when the configured store looks usable, else what is wrong and what to do."""
    path = sqlite_path(settings.tracking_uri)
    if path is not None:
        return store_problem(path) if path.exists() else None
    from nbops.store.probe import health

    return health(settings.tracking_uri, timeout=min(settings.store_timeout, 2.0))


def status_text(settings: Settings, spool: Spool, *, problem: str | None = None,
                sessions: list[str] | None = None) -> str:
    """The status report; ``problem`` and ``sessions`` come from a live logger, when there is
    one in this process."""
    uri = settings.tracking_uri
    db_file = sqlite_path(uri)
    lines = [
        f"tracking store : {uri}" + (" (embedded)" if settings.embedded else ""),
        f"store health   : {_health_line(settings, db_file)}",
        f"nbops home     : {settings.home}",
        f"project root   : {settings.project_root}",
        f"experiment     : {settings.experiment or '(the notebook name, else the project name)'}",
        f"capture off    : {', '.join(sorted(settings.no_capture)) or 'nothing'}",
        f"redaction      : deny {list(settings.redact_deny) or 'none'}, allow "
        f"{list(settings.redact_allow) or 'none'}",
        f"exit flush     : {settings.flush_timeout:g} s, then a background `nbops sync`",
        "registry writes: " + ("on" if settings.registry_writes
                               else "OFF (models are not registered, aliases do not move)"),
        f"spool backlog  : {spool.backlog()} event(s) not yet in MLflow",
    ]
    for line in sessions or []:
        lines.append(f"session run    : {line}")
    dead = spool.dead_owners()
    if dead:
        lines.append(f"unsynced       : {len(dead)} ended process(es) left events; run "
                     "`nbops sync`")
    if problem:
        lines.append(f"problem        : {problem}")
    rejected = spool.rejected()
    if rejected:
        lines.append(f"set aside      : {len(rejected)} event(s) the store could not take; "
                     "fix the cause, then `nbops sync --retry-rejected`:")
        for seq, run_uid, kind, error in rejected[-MAX_LISTED:]:
            lines.append(f"  #{seq} run {run_uid[:12]} {kind}: {(error or '')[:200]}")
        if len(rejected) > MAX_LISTED:
            lines.append(f"  ... and {len(rejected) - MAX_LISTED} earlier")
    return "\n".join(lines)


def _health_line(settings: Settings, db_file: Path | None) -> str:
    if db_file is not None and not db_file.exists():
        return "not created yet (built by the first tracked run or `nbops sync`)"
    problem = store_health(settings)
    return problem or "ok"
