"""What a run records is right, checked in a real kernel over ZMQ from a fresh folder: nbops'
own writes are no lineage, figures belong to the cell that made them, parameters are what the
cell read, a file written then read has both edges, datasets are found by short digests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from first_contact_support import (
    artifacts_of,
    embedded_uri,
    env_without_nbops,
    kernel,
    nbops_cli,
    run_in_kernel,
    runs_in,
)

pytestmark = pytest.mark.slow


@pytest.fixture()
def session(fresh: Path):
    """A real kernel in the fresh folder with nbops loaded; yields a cell runner."""
    km, kc = kernel(fresh, env_without_nbops())
    run_in_kernel(kc, "%load_ext nbops\nimport matplotlib\nmatplotlib.use('Agg')")

    def cell(code: str) -> str:
        out = run_in_kernel(kc, code)
        assert "ERROR" not in out, out
        return out

    try:
        yield cell
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def _by_name(root: Path) -> dict:
    assert nbops_cli("sync", cwd=root).returncode == 0
    return {r.info.run_name: r for r in runs_in(embedded_uri(root))}


def test_what_cells_record_is_right(fresh: Path, session) -> None:
    session("%%track own-writes\nimport nbops, pandas as pd\n"
            "nbops.log_artifact(pd.DataFrame({'a': [1, 2]}), 'predictions.csv')")
    session("%%track fig-a\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])")
    session("%%track fig-b\nx = 2")
    session("# Parameters\nepochs = 3")
    session("epochs = 5")
    session("%%track reads-epochs\ny = epochs + 1")
    (fresh / "data").mkdir()
    session("%%track roundtrip\nimport pandas as pd\n"
            "pd.DataFrame({'v': [1]}).to_csv('data/mid.csv', index=False)\n"
            "back = pd.read_csv('data/mid.csv')")
    session("%%track two-files\nimport pandas as pd, os\nos.makedirs('b', exist_ok=True)\n"
            "pd.DataFrame({'v': [1]}).to_csv('data.csv')\npd.DataFrame({'v': [2]})"
            ".to_csv('b/data.csv')")
    assert "everything is in" in session("%nbops sync")
    runs = _by_name(fresh)
    uri = embedded_uri(fresh)

    own = runs["own-writes"]
    assert "predictions.csv" in artifacts_of(uri, own.info.run_id)
    assert "nbops.capture_error" not in own.data.tags
    assert not [k for k in own.data.tags if k.startswith("nbops.dataset.")]

    assert any(a.startswith("figures/") for a in artifacts_of(uri, runs["fig-a"].info.run_id))
    assert not any(a.startswith("figures/")
                   for a in artifacts_of(uri, runs["fig-b"].info.run_id))  # fig-a's figure

    reads = runs["reads-epochs"]
    assert reads.data.params.get("epochs") == "5"  # the value the cell read
    assert "epochs" not in runs["fig-b"].data.params  # never read there

    rt = runs["roundtrip"].data.tags
    assert rt["nbops.dataset.data/mid.csv.context"] == "output,input"

    two = runs["two-files"].data.tags
    assert "nbops.dataset.data.csv.digest" in two and "nbops.dataset.b/data.csv.digest" in two
    assert two["nbops.dataset.data.csv.digest"] != two["nbops.dataset.b/data.csv.digest"]

    # lineage by the shortest unambiguous digest prefix (git-style, >= 4 hex), also for data
    # a run only wrote (recorded as tags)
    digest = two["nbops.dataset.b/data.csv.digest"]
    for n in (4, 6, 12):
        found = nbops_cli("lineage", digest[:n], cwd=fresh)
        assert found.returncode == 0, (n, found.stdout, found.stderr)
        assert "b/data.csv" in found.stdout


def test_execution_count_and_tracebacks_match_what_the_user_sees(fresh: Path, session) -> None:
    session("x = 0")
    out = run_in_kernel_raising(session, "%%track\n1 / 0")
    assert "ZeroDivisionError" in out
    session("%nbops sync")
    runs = _by_name(fresh)
    assert "cell-3" in runs
    tb = runs["cell-3"].data.tags["nbops.error.type"]
    assert tb == "ZeroDivisionError"


def run_in_kernel_raising(session, code: str) -> str:
    try:
        return session(code)
    except AssertionError as exc:  # the cell raised, as intended
        return str(exc)


def test_a_script_sees_the_same_rules(fresh: Path) -> None:
    script = ("import nbops, pandas as pd\nwith nbops.track('s'):\n"
              "    nbops.log_artifact(pd.DataFrame({'a': [1]}), 'out.csv')\n")
    assert subprocess.run([sys.executable, "-c", script], cwd=fresh, env=env_without_nbops(),
                          timeout=120).returncode == 0
    run = _by_name(fresh)["s"]
    assert "nbops.capture_error" not in run.data.tags
    assert not [k for k in run.data.tags if k.startswith("nbops.dataset.")]
