"""The tiny models the serving tests register (imported by name: a module called conftest would
clash with tests/conftest.py when the whole suite runs)."""

from __future__ import annotations

FEATURES = 8


def make_model(seed: int):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 2)).eval()
