"""The public surface of nbops.registry, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import nbops.registry


def test_all_is_pinned():
    assert nbops.registry.__all__ == [
        "AuditRecord", "Edge", "LineageGraph", "ModelInfo", "ModelRef", "ModelSpec", "Node",
        "NodeKind", "Page", "Relation", "VersionInfo", "delete_alias", "delete_tag", "history",
        "lineage", "list_models", "parse_ref", "register_kind",
        "register_relation", "resolve", "rollback", "set_alias", "set_description", "set_tag",
        "versions",
    ]
    for name in nbops.registry.__all__:
        assert getattr(nbops.registry, name).__doc__


def test_import_does_not_load_mlflow_or_torch():
    code = ("import sys, nbops.registry, nbops.cli.registry; "
            "print(sorted(m for m in ('mlflow', 'torch', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
