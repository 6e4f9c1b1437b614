"""Dataset versions as runs record them: ``nbops.dataset.<name>.*`` tags and MLflow inputs.

    >>> run_datasets(run)                                  # doctest: +SKIP
    [(DatasetVersion(name='train', digest='938bd80c...'), 'input')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.store.types import Run

__all__ = ["DatasetVersion", "run_datasets"]

_DIGEST_TAG = re.compile(r"^nbops\.dataset\.(.+)\.digest$")


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a named dataset, as runs record it (nbops tags or MLflow inputs)."""

    name: str
    digest: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)


def run_datasets(run: Run) -> list[tuple[DatasetVersion, str]]:
    """(dataset version, context) pairs a run recorded: ``nbops.dataset.<name>.*`` tags (full
    digest; context ``output`` for data it wrote) and MLflow dataset inputs (merged with the
    tags when the name matches and the digest is a prefix)."""
    tags = run.data.tags
    found: dict[str, tuple[DatasetVersion, str]] = {}
    extra_contexts: list[tuple[DatasetVersion, str]] = []
    for key, digest in tags.items():
        match = _DIGEST_TAG.match(key)
        if not match:
            continue
        name = match.group(1)
        prefix = f"nbops.dataset.{name}."
        attrs = {k[len(prefix):]: v for k, v in tags.items()
                 if k.startswith(prefix) and k[len(prefix):] in
                 ("algorithm", "kind", "rows", "size_bytes", "source")}
        contexts = tags.get(prefix + "context", "input").split(",")
        found[name] = (DatasetVersion(name, digest, attrs), contexts[0])
        for later in contexts[1:]:  # written then read back in one run: both edges
            extra_contexts.append((DatasetVersion(name, digest, attrs), later))
    inputs = run.inputs.dataset_inputs if run.inputs is not None else []
    extra: list[tuple[DatasetVersion, str]] = []
    for item in inputs:
        ds = item.dataset
        context = next((t.value for t in item.tags if t.key == T.DATASET_CONTEXT), "input")
        known = found.get(ds.name)
        if known is not None and known[0].digest.startswith(ds.digest):
            known[0].attrs.setdefault("source", ds.source)
            continue
        extra.append((DatasetVersion(ds.name, ds.digest, {"source": ds.source,
                                                           "source_type": ds.source_type}),
                      context))
    return [*found.values(), *extra_contexts, *extra]
