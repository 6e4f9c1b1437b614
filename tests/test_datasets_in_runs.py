"""Dataset versions on runs and automatic file lineage inside %%track (real store, real pandas)."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

import nbops
import nbops.data
from nbops.exceptions import NotFoundError
from nbops.magics import NbopsMagics
from nbops.tracking.run import track


def _run(client, name):
    (run,) = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
              if r.info.run_name == name]
    return run


def test_dataset_is_an_mlflow_input_with_nbops_digest(tracker, client, settings):
    df = pd.DataFrame({"x": range(20_000), "y": [0.5] * 20_000})
    with track("v1", tracker=tracker) as r1:
        fp1 = nbops.dataset(df, name="customers")
    with track("v2", tracker=tracker) as r2:
        assert nbops.dataset(df.copy(), name="customers").digest == fp1.digest  # same content
    changed = df.copy()
    changed.loc[19_999, "y"] = 0.25  # past the 10,000 rows MLflow's own digest looks at
    with track("v3", tracker=tracker) as r3:
        fp3 = nbops.dataset(changed, name="customers")
    assert fp3.digest != fp1.digest
    for r in (r1, r2, r3):
        assert r.wait(60)
    inputs = _run(client, "v1").inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("customers", fp1.digest)]
    assert inputs[0].tags[0].value == "training"
    versions = nbops.datasets("customers")
    assert [(v.version, v.digest, len(v.runs)) for v in versions] == [
        (1, fp1.digest, 2), (2, fp3.digest, 1)]
    assert versions[0].rows == 20_000


def test_unknown_dataset_name_suggests_known_ones(tracker, client):
    with track("a", tracker=tracker) as run:
        nbops.dataset(pd.DataFrame({"a": [1]}), name="customers")
    run.wait(60)
    with pytest.raises(NotFoundError, match="Did you mean 'customers'"):
        nbops.datasets("customer")


def test_tracked_cell_records_csv_input_and_parquet_output(tracker, client, project):
    pd.DataFrame({"a": [1, 2, 3]}).to_csv(project / "raw.csv", index=False)
    start_ipython()
    shell = InteractiveShell.instance()
    shell.register_magics(NbopsMagics(shell, tracker))
    result = shell.run_cell("%%track clean\nimport pandas as pd\ndf = pd.read_csv('raw.csv')\n"
                            "df['b'] = df.a * 2\ndf.to_parquet('clean.parquet')\n")
    assert result.success
    assert tracker.logger.flush(60) == 0
    run = _run(client, "clean")
    tags = run.data.tags
    assert tags["nbops.dataset.raw.csv.context"] == "input"
    assert tags["nbops.dataset.clean.parquet.context"] == "output"
    assert tags["nbops.dataset.raw.csv.digest"] == nbops.data.fingerprint(project / "raw.csv").digest
    assert [i.dataset.name for i in run.inputs.dataset_inputs] == ["raw.csv"]
    # hooks are gone after the cell
    assert pd.read_csv.__module__.startswith("pandas")
