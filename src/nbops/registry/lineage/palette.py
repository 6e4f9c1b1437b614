"""Fill colours of the node kinds in pictures: written by ``register_kind``, read by the
renderers (which need nothing else of the kinds)."""

from __future__ import annotations

__all__ = ["COLORS", "color_of"]

COLORS: dict[str, str] = {}


def color_of(kind: str) -> str:
    """The fill colour of ``kind`` (light grey for a kind nobody registered)."""
    return COLORS.get(kind, "#eeeeee")
