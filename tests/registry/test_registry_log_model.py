"""log_model inside a tracked run: a registered version linked to its run, with a signature."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from registry_helpers import add_dataset

import nbops
from nbops import log_model
from nbops.data import fingerprint
from nbops.exceptions import NoActiveRunError, UsageError
from nbops.registry import ModelRef, history, resolve


def tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def test_log_model_registers_a_version_of_the_run_with_signature(tracker, client):
    fp = fingerprint(np.arange(40.0).reshape(10, 4))
    with nbops.track("train", tracker=tracker) as run:
        run_id = run.require_mlflow_id()
        add_dataset(client, run_id, "train", fp)
        ref = log_model(tiny(), "churn", input_example=torch.randn(2, 4))  # MLflow infers reqs

    assert isinstance(ref, ModelRef)
    assert (ref.name, ref.version, ref.uri, ref.run_id) == ("churn", "1", "models:/churn/1",
                                                            run_id)
    assert ref.model_id.startswith("m-")
    assert ref.to_dict()["uri"] == "models:/churn/1"

    mv = client.get_model_version("churn", "1")
    assert mv.run_id == run_id  # MLflow's source run
    assert mv.tags["nbops.source_run"] == run_id
    assert mv.tags["nbops.model_id"] == ref.model_id
    assert mv.tags["nbops.dataset.train.digest"] == fp.digest

    logged = client.get_logged_model(ref.model_id)
    assert logged.source_run_id == run_id
    assert logged.experiment_id == client.get_run(run_id).info.experiment_id
    import mlflow
    from mlflow.models import Model
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(client.tracking_uri):
        model = Model.load(f"models:/{ref.model_id}")
        assert model.signature is not None
        assert list(model.signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 4]
        assert list(model.signature.outputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 2]
        loaded = mlflow.pytorch.load_model("models:/churn/1")
    x = torch.randn(5, 4)
    torch.testing.assert_close(loaded(x), tiny()(x))


def test_log_model_sets_an_audited_alias(tracker, client):
    with nbops.track("train", tracker=tracker):
        ref = log_model(tiny(), "churn", input_example=torch.randn(1, 4), alias="staging",
                        reason="first model", pip_requirements=["torch"])
    assert resolve("churn@staging").version == ref.version
    [record] = history("churn", "staging")
    assert (record.action, record.from_version, record.to_version, record.reason) == (
        "set", None, ref.version, "first model")


def test_log_model_without_register_gives_the_logged_model(tracker, client):
    with nbops.track("train", tracker=tracker):
        ref = log_model(tiny(), "scratch", register=False, pip_requirements=["torch"])
    assert ref.version is None and ref.uri == f"models:/{ref.model_id}"
    assert client.search_registered_models(filter_string="name = 'scratch'") == []


def test_log_model_outside_a_run_says_where_to_call_it(project):
    with pytest.raises(NoActiveRunError, match="nbops.log_model.*track"):
        log_model(tiny(), "churn")


def test_log_model_refuses_a_non_torch_model_naming_its_type(tracker):
    from collections import OrderedDict

    with nbops.track("train", tracker=tracker), pytest.raises(UsageError,
                                                               match="collections.OrderedDict"):
        log_model(OrderedDict(), "churn")


@pytest.mark.parametrize("name", ["", "a/b", "x:y"])
def test_log_model_refuses_bad_names(tracker, name):
    with nbops.track("train", tracker=tracker), pytest.raises(UsageError, match="name"):
        log_model(tiny(), name)


def test_log_model_refuses_an_example_the_model_rejects(tracker):
    with nbops.track("train", tracker=tracker), pytest.raises(UsageError, match="shape"):
        log_model(tiny(), "churn", input_example=torch.randn(2, 7))
