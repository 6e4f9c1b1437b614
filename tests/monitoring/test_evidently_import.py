"""Keeps the `pandas<3.1` pin honest: evidently 0.7.23 must import with the installed pandas."""

from __future__ import annotations


def test_evidently_imports_with_pinned_pandas():
    import evidently
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report  # noqa: F401
    from evidently.presets import DataDriftPreset  # noqa: F401

    major, minor = (int(x) for x in pd.__version__.split(".")[:2])
    assert (major, minor) < (3, 1), f"pandas {pd.__version__}: evidently 0.7.23 needs pandas<3.1"
    assert evidently.__version__ == "0.7.23"
