"""Helpers of the workflow tests: two real tiny torch models registered as ``churn`` v1 (champion) and v2 (challenger), each
packaged as ONNX, and labelled windows on which the challenger is clearly better or worse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

import nbops.workflows.package as package
from nbops import log_model
from nbops.registry import set_alias
from nbops.tracking.run import track


def _linear(feature: int) -> torch.nn.Module:
    """Two logits (-x[feature], x[feature]): predicts class 1 exactly when x[feature] > 0."""
    net = torch.nn.Sequential(torch.nn.Linear(4, 2))
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.zero_()
        net[0].weight[0, feature] = -1.0
        net[0].weight[1, feature] = 1.0
    return net


def window(label_feature: int, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Four features; the label is ``x[label_feature] > 0``."""
    x = np.random.default_rng(seed).standard_normal((n, 4)).astype("float32")
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["y"] = (x[:, label_feature] > 0).astype("int64")
    return frame


@dataclass
class Models:
    better: pd.DataFrame  # the challenger (feature 0) is right, the champion (feature 1) is not
    worse: pd.DataFrame


def register(tracker, packaged: bool = True) -> Models:
    """churn/1 reads feature 1 (@champion), churn/2 reads feature 0 (@challenger)."""
    example = torch.zeros(1, 4)
    with track("train", tracker=tracker):
        log_model(_linear(1), "churn", input_example=example, pip_requirements=["torch"])
        log_model(_linear(0), "churn", input_example=example, pip_requirements=["torch"])
    set_alias("churn", "champion", 1, reason="first model")
    set_alias("churn", "challenger", 2, reason="retrained")
    if packaged:
        package.onnx("churn/1", example)
        package.onnx("churn/2", example)
    tracker.logger.flush(60)
    return Models(better=window(0), worse=window(1))
