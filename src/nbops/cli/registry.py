"""``nbops registry ...`` and ``nbops lineage``: thin commands over :mod:`nbops.registry`.

The lead mounts them with::

    app.add_typer(registry_app, name="registry")
    app.command("lineage")(lineage_command)

Any :class:`~nbops.exceptions.NbopsError` prints ``error: <message>`` on stderr and exits 2.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from nbops.cli.errors import reported
from nbops.store import tags as T

__all__ = ["lineage_command", "registry_app"]

registry_app = typer.Typer(
    name="registry",
    help="Registered models: versions, aliases (audited), history, rollback, tags.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
alias_app = typer.Typer(help="Set or delete an alias; every change is recorded.",
                        no_args_is_help=True)
registry_app.add_typer(alias_app, name="alias")

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _api() -> Any:
    from nbops.registry import api

    return api


@registry_app.command("list")
def list_cmd(
    search: str = typer.Argument(None, help="Part of a name, or an MLflow filter."),
    max_results: int = typer.Option(100, help="Models per page (1-1000)."),
    page_token: str = typer.Option(None, help="Token printed at the end of the previous page."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List registered models with their aliases and latest version."""
    with reported():
        page = _api().list_models(search, max_results=max_results, page_token=page_token)
    if as_json:
        _echo_json({"models": [m.to_dict() for m in page], "next_page_token":
                    page.next_page_token})
        return
    if not page:
        typer.echo("no registered models" + (f" matching {search!r}" if search else ""))
        return
    _table([[m.name, m.latest_version or "-",
             ", ".join(f"{a}→{v}" for a, v in m.aliases.items()) or "-",
             m.updated_at or "-"] for m in page],
           ["NAME", "LATEST", "ALIASES", "UPDATED"])
    if page.next_page_token:
        typer.echo(f"more: --page-token {page.next_page_token}")


@registry_app.command("versions")
def versions_cmd(name: str, as_json: bool = JSON_OPTION) -> None:
    """List the versions of a model, newest first."""
    with reported():
        found = _api().versions(name)
    if as_json:
        _echo_json([v.to_dict() for v in found])
        return
    _table([[v.version, ", ".join(v.aliases) or "-", v.status, (v.run_id or "-")[:12],
             v.tags.get(T.MONITOR_STATUS, "-"), v.created_at or "-"] for v in found],
           ["VERSION", "ALIASES", "STATUS", "RUN", "MONITOR", "CREATED"])


def _say(record: Any) -> None:
    moved = f"v{record.from_version or '∅'} → v{record.to_version or '∅'}"
    typer.echo(f"{record.action} {record.alias}: {moved} ({record.who}, {record.when})")


@alias_app.command("set")
def alias_set(
    name: str, alias: str, version: str,
    reason: str = typer.Option(None, "--reason", "-r", help="Why; kept in the audit record."),
) -> None:
    """Point ALIAS of model NAME at VERSION."""
    with reported():
        _say(_api().set_alias(name, alias, version, reason=reason))


@alias_app.command("delete")
def alias_delete(
    name: str, alias: str,
    reason: str = typer.Option(None, "--reason", "-r", help="Why; kept in the audit record."),
) -> None:
    """Remove ALIAS from model NAME."""
    with reported():
        _say(_api().delete_alias(name, alias, reason=reason))


@registry_app.command("history")
def history_cmd(
    name: str,
    alias: str = typer.Option(None, "--alias", "-a", help="Only this alias."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the recorded alias changes of a model, oldest first."""
    with reported():
        records = _api().history(name, alias)
    if as_json:
        _echo_json([r.to_dict() for r in records])
        return
    if not records:
        typer.echo("no recorded alias changes")
        return
    _table([[r.when, r.who, r.action, r.alias, r.from_version or "-", r.to_version or "-",
             r.reason or ""] for r in records],
           ["WHEN", "WHO", "ACTION", "ALIAS", "FROM", "TO", "REASON"])


@registry_app.command("rollback")
def rollback_cmd(
    name: str, alias: str,
    reason: str = typer.Option(None, "--reason", "-r", help="Why; kept in the audit record."),
) -> None:
    """Move ALIAS back to the version it pointed to before its latest change."""
    with reported():
        _say(_api().rollback(name, alias, reason=reason))


@registry_app.command("tag")
def tag_cmd(
    name: str, key: str,
    value: str = typer.Argument(None, help="The value (omit with --delete)."),
    version: str = typer.Option(None, "--version", "-v", help="Tag this version, not the model."),
    delete: bool = typer.Option(False, "--delete", help="Delete the tag instead."),
) -> None:
    """Set (or --delete) a tag on a model or one of its versions."""
    where = f"{name}/{version}" if version else name
    with reported():
        if delete:
            _api().delete_tag(name, key, version)
            typer.echo(f"deleted tag {key} of {where}")
            return
        if value is None:
            from nbops.exceptions import UsageError

            raise UsageError(f"Give a value: `nbops registry tag {name} {key} VALUE`, or pass "
                             "--delete to remove the tag.")
        _api().set_tag(name, key, value, version)
    typer.echo(f"{where}: {key}={value}")


@registry_app.command("describe")
def describe_cmd(
    name: str,
    description: str = typer.Argument(None, help="New description; omit to show the model."),
    version: str = typer.Option(None, "--version", "-v", help="Describe this version instead."),
) -> None:
    """Show a model (description, aliases, tags, versions), or set its description."""
    api = _api()
    with reported():
        if description is not None:
            api.set_description(name, description, version)
            typer.echo(f"description of {name}{'/' + version if version else ''} set")
            return
        from nbops.registry.info import model_info
        from nbops.registry.resolve import registered_model

        model = model_info(registered_model(name))
        found = api.versions(name)
    typer.echo(f"{model.name}: {model.description or '(no description)'}")
    typer.echo("aliases : " + (", ".join(f"{a}→v{v}" for a, v in model.aliases.items())
                               or "none"))
    typer.echo("tags    : " + (", ".join(f"{k}={v}" for k, v in model.tags.items()) or "none"))
    typer.echo("versions: " + (", ".join(v.version for v in found) or "none"))


_FORMATS = ("text", "json", "mermaid", "dot", "svg")


def lineage_command(
    ref: str = typer.Argument(..., help="name, name@alias, name/3, run:<id>, "
                                        "dataset:<name>@<digest prefix>, or a digest."),
    format: str = typer.Option("text", "--format", "-f", help="text, json, mermaid, dot or svg."),
    direction: str = typer.Option("both", "--direction", "-d",
                                  help="both, upstream or downstream."),
    depth: int = typer.Option(None, "--depth", help="Hops from REF (default: all)."),
) -> None:
    """Show where a model, run or dataset version came from and what came from it."""
    from nbops.registry.lineage import lineage

    with reported():
        graph = lineage(ref, direction=direction, depth=depth)  # type: ignore[arg-type]
        typer.echo(graph.render(format))
