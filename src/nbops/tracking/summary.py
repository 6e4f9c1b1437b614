"""The run summary shown after a tracked cell: HTML for Jupyter, plain text everywhere else."""

from __future__ import annotations

import html
import math
from urllib.parse import urlparse

from nbops.tracking.run import RunSummary

__all__ = ["open_hint", "render_html", "render_text", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 24) -> str:
    """Unicode sparkline of at most ``width`` points (NaN/inf drawn as spaces)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(values) < 2 or not finite:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width)]
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    return "".join(
        _BARS[min(7, int((v - lo) / span * 7.999))] if math.isfinite(v) else " " for v in values
    )


def open_hint(s: RunSummary) -> str:
    """How to look at the run: a URL for a server, the ``mlflow ui`` command for a local store."""
    parsed = urlparse(s.tracking_uri)
    if parsed.scheme in ("http", "https"):
        if s.mlflow_run_id:
            return f"{s.tracking_uri.rstrip('/')}/#/experiments/-/runs/{s.mlflow_run_id}"
        return s.tracking_uri
    return f"mlflow ui --backend-store-uri {s.tracking_uri}"


def _fmt(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def _status_line(s: RunSummary) -> str:
    rid = s.mlflow_run_id or f"pending sync (nbops uid {s.uid[:12]})"
    return f"{s.status.lower()} · {s.duration:.2f}s · experiment {s.experiment!r} · run {rid}"


def _warnings(s: RunSummary) -> list[str]:
    out = []
    for key, m in s.metrics.items():
        if m.non_finite_step is not None:
            out.append(f"metric {key!r} became NaN/inf at step {m.non_finite_step}")
    if s.problem:
        out.append(f"{s.problem}; {s.backlog} event(s) spooled, retrying (run `%nbops sync`)")
    return out


def render_text(s: RunSummary, warnings: list[str] = ()) -> str:
    lines = [f"nbops ▸ {s.name}: {_status_line(s)}"]
    if s.error:
        lines.append(f"  error: {s.error}")
    if s.params:
        shown = ", ".join(f"{k}={v}" for k, v in list(s.params.items())[:12])
        more = f" (+{len(s.params) - 12} more)" if len(s.params) > 12 else ""
        lines.append(f"  params: {shown}{more}")
    for key, m in list(s.metrics.items())[:20]:
        spark = sparkline(m.values)
        lines.append(f"  {key} = {_fmt(m.last)}" + (f"  {spark} ({m.count} pts)" if spark else ""))
    for w in [*_warnings(s), *warnings]:
        lines.append(f"  ⚠ {w}")
    lines.append(f"  open: {open_hint(s)}")
    return "\n".join(lines)


def render_html(s: RunSummary, warnings: list[str] = ()) -> str:
    e = html.escape
    color = {"finished": "#1a7f37", "failed": "#cf222e", "killed": "#9a6700"}.get(
        s.status.lower(), "#57606a")
    rows = []
    for key, m in list(s.metrics.items())[:20]:
        spark = sparkline(m.values)
        rows.append(f"<tr><td>{e(key)}</td><td style='text-align:right'>{e(_fmt(m.last))}</td>"
                    f"<td style='font-family:monospace'>{e(spark)}</td></tr>")
    params = "".join(f"<code>{e(k)}={e(v[:80])}</code> " for k, v in list(s.params.items())[:30])
    warns = "".join(f"<div style='color:#9a6700'>⚠ {e(w)}</div>"
                    for w in [*_warnings(s), *warnings])
    error = f"<div style='color:#cf222e'>{e(s.error)}</div>" if s.error else ""
    hint = open_hint(s)
    hint_html = (f"<a href='{e(hint)}' target='_blank'>{e(hint)}</a>" if hint.startswith("http")
                 else f"<code>{e(hint)}</code>")
    table = f"<table style='margin:4px 0'>{''.join(rows)}</table>" if rows else ""
    return (
        "<div class='nbops-run-summary' style='border-left:3px solid "
        f"{color};padding:4px 10px;font-size:12px'>"
        f"<b>nbops ▸ {e(s.name)}</b> <span style='color:{color}'>{e(_status_line(s))}</span>"
        f"{error}<div>{params}</div>{table}{warns}<div>open: {hint_html}</div></div>"
    )
