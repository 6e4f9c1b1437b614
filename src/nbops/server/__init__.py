"""nbops' Jupyter server extension: the REST API under ``/nbops/api/`` behind the sidebar.

Only entry points live here; see :mod:`nbops.server.extension` (the app, its settings and
shutdown), :mod:`nbops.server.handlers` and :mod:`nbops.server.contract`; the
service they call is :mod:`nbops.registry.service`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "_jupyter_labextension_paths",
    "_jupyter_server_extension_points",
]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nbops"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from nbops.server.extension import NbopsServer

    return [{"module": "nbops.server", "app": NbopsServer}]
