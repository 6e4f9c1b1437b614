"""``nbops serve NAME@ALIAS``: serve a model alias over HTTP, or export it for KServe."""

from __future__ import annotations

import typer

from nbops.cli.errors import fail
from nbops.exceptions import NbopsError

__all__ = ["serve_command"]


def serve_command(
    ref: str = typer.Argument(None, help="The model to serve: NAME@ALIAS (or name/3); may come "
                              "from --config instead."),
    host: str = typer.Option(None, help="Interface to listen on (0.0.0.0: all) [default: "
                             "127.0.0.1]."),
    port: int = typer.Option(None, help="TCP port [default: 5000]."),
    workers: int = typer.Option(None, help="Worker processes (each loads the model) "
                                "[default: 1]."),
    canary: str = typer.Option(None, help="Send a share of requests to another alias, e.g. "
                               "challenger=10% (sticky per X-Nbops-Key header)."),
    shadow: str = typer.Option(None, help="Mirror every request to another alias; its "
                               "predictions are logged, never returned."),
    poll: float = typer.Option(None, help="Seconds between checks that an alias moved "
                               "(0: never follow the registry) [default: 2]."),
    config: str = typer.Option(None, "--config", help="A routing file (YAML) with these options: "
                               "model, canary, shadow, poll, host, port, workers; flags given "
                               "as well win."),
    export: str = typer.Option(None, "--export", help="Write a deployment manifest instead of "
                               "serving: kserve."),
    out: str = typer.Option(None, "--out", help="With --export: the file to write (default "
                            "stdout)."),
    storage_uri: str = typer.Option(None, "--storage-uri", help="With --export: where the "
                                    "cluster reads the ONNX package (default: MLflow's location)."),
) -> None:
    """Serve a model alias over HTTP (MLflow-compatible /invocations), logging every request.

    The server follows the registry: when the alias moves (a promotion, `nbops registry
    rollback`) it loads the new version and swaps to it without dropping requests.
    """
    from nbops.exceptions import UsageError
    from nbops.serving.routing import RouteConfig, parse_canary, read_routing

    try:
        file = read_routing(config) if config else {}
        flags = {"model": ref, "host": host, "port": port, "workers": workers, "canary": canary,
                 "shadow": shadow, "poll": poll}
        chosen = {**{"host": "127.0.0.1", "port": 5000, "workers": 1, "poll": 2.0}, **file,
                  **{k: v for k, v in flags.items() if v is not None}}
        if not chosen.get("model"):
            raise UsageError("Name the model to serve: `nbops serve NAME@ALIAS`, or 'model: "
                             "NAME@ALIAS' in the file given to --config.")
        ref, host, port, workers = (chosen["model"], chosen["host"], chosen["port"],
                                    chosen["workers"])
        canary, shadow, poll = chosen.get("canary"), chosen.get("shadow"), chosen["poll"]
        canary_ref, percent = parse_canary(canary) if canary else (None, 0.0)
        display = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        route = RouteConfig(ref, canary_ref, percent, shadow, poll, url=f"http://{display}:{port}")
        if export:
            from nbops.serving.kserve import export_manifest

            text = export_manifest(route, kind=export, storage_uri=storage_uri)
            if out:
                from pathlib import Path

                Path(out).write_text(text)
                typer.echo(f"wrote {export} manifest for {ref} to {out}")
            else:
                typer.echo(text, nl=False)
            return
        from nbops.serving.server import run

        banner = f"serving {ref} on {route.url} ({workers} worker(s)); Ctrl-C stops"
        run(route, host=host, port=port, workers=workers,
            announce=lambda: typer.echo(banner))  # once the model and the port are checked
    except NbopsError as exc:
        fail(exc)
