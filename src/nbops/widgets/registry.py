"""The registry browser widget: the same list and model view as the sidebar, no server needed."""

from __future__ import annotations

from typing import Any

import traitlets

from nbops.registry.service import to_json
from nbops.widgets._base import ServiceWidget

__all__ = ["RegistryBrowser"]

#: Aliases whose lineage is drawn first, as in the sidebar (labextension/src/format.ts).
PROMOTION_ORDER = ("champion", "prod", "production", "staging", "challenger", "candidate")


def _alias_rank(alias: str) -> tuple[int, str]:
    low = alias.lower()
    return (PROMOTION_ORDER.index(low) if low in PROMOTION_ORDER else len(PROMOTION_ORDER), alias)


class RegistryBrowser(ServiceWidget):
    """List of registered models (``models``); setting ``selected`` loads ``detail``/``lineage``.

    The browser view sets ``search`` and ``selected``; Python answers by filling the data traits.
    """

    _view = traitlets.Unicode("registry").tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    page_size = traitlets.Int(50).tag(sync=True)
    models = traitlets.List(traitlets.Dict()).tag(sync=True)
    next_page_token = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    detail = traitlets.Dict().tag(sync=True)
    lineage = traitlets.Dict().tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refresh()

    def refresh(self) -> None:
        """Reload the list (and the open model)."""
        self._load_list()
        if self.selected:
            self._load_model(self.selected)

    @traitlets.observe("search")
    def _on_search(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._load_list()

    @traitlets.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if change["new"]:
            self._load_model(change["new"])
        else:
            self.detail, self.lineage = {}, {}

    def load_more(self) -> None:
        """Append the next page of models."""
        if self.next_page_token:
            self._load_list(append=True)

    def _load_list(self, append: bool = False) -> None:
        token = self.next_page_token if append else None
        page = self._call(lambda s: s.list_models(self.search, self.page_size, token))
        if page is None:
            return
        found = to_json(page.models)
        self.models = [*self.models, *found] if append else found
        self.next_page_token = page.next_page_token

    def _load_model(self, name: str) -> None:
        detail = self._call(lambda s: s.model(name))
        if detail is None:
            self.detail, self.lineage = {}, {}
            return
        self.detail = to_json(detail)
        alias = min(detail.aliases, key=_alias_rank) if detail.aliases else None
        ref = f"{name}@{alias}" if alias else (
            f"{name}/{detail.versions[0].version}" if detail.versions else "")
        if not ref:
            self.lineage = {}
            return
        error = self.error
        graph = self._call(lambda s: s.lineage(ref, "both", 3))
        self.lineage = graph or {}
        if graph is None:  # lineage is optional: keep the model view, note the failure
            self.lineage = {"nodes": [], "edges": [], "error": self.error}
            self.error = error

