"""`nbops.compare(exp, metric)` shows its plot in a notebook without pyplot imported first."""

from __future__ import annotations

import sys

from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

import nbops
from nbops.tracking.run import track


def test_compare_plot_is_a_png_even_without_pyplot(tracker, project, monkeypatch):
    for i in range(2):
        with track(f"r{i}", experiment="cmp", tracker=tracker) as run:
            for step in range(3):
                run.log(loss=1.0 / (step + 1 + i), step=step)
    assert tracker.logger.flush(60) == 0
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    start_ipython()  # the shell the other in-process tests share
    with capture_output() as captured:
        table = nbops.compare("cmp", metric="loss")
    assert len(table) == 2
    assert any("image/png" in out.data for out in captured.outputs)
