"""The gate's criterion grammar: what it reads, and the errors naming what it cannot."""

from __future__ import annotations

import pytest

from nbops.exceptions import UsageError
from nbops.workflows.criteria import parse_criteria, parse_criterion


@pytest.mark.parametrize(("text", "challenger", "champion", "passes", "threshold"), [
    ("accuracy >= champion + 0.01", {"accuracy": 0.92}, {"accuracy": 0.90}, True, 0.91),
    ("accuracy>=champion+0.05", {"accuracy": 0.92}, {"accuracy": 0.90}, False, 0.95),
    ("rmse <= champion - 0.5", {"rmse": 1.0}, {"rmse": 2.0}, True, 1.5),
    ("rmse < champion", {"rmse": 2.0}, {"rmse": 2.0}, False, 2.0),
    ("p99_ms <= 5", {"p99_ms": 4.2}, {"p99_ms": 9.0}, True, 5.0),
    ("P50_MS < 1e-1", {"p50_ms": 0.2}, {"p50_ms": 0.0}, False, 0.1),
    ("agreement >= .9", {"agreement": 0.95}, {"agreement": 0.95}, True, 0.9),
])
def test_comparisons(text, challenger, champion, passes, threshold):
    passed, limit = parse_criterion(text).check(challenger, champion)
    assert passed is passes and limit == pytest.approx(threshold)


def test_drift_lists_statuses():
    rule = parse_criterion(" drift: Drift , warning ")
    assert (rule.metric, rule.statuses) == ("drift", ("drift", "warning"))
    assert rule.describe_threshold() == "drift or warning"


@pytest.mark.parametrize(("text", "message"), [
    ("accuracy >> 0.9", "Criterion 'accuracy >> 0.9' cannot be read. Write 'METRIC OP NUMBER'"),
    ("acuracy >= 0.9", "unknown metric 'acuracy'. Did you mean 'accuracy'? Allowed metrics: "
                       "accuracy, rmse, p50_ms, p99_ms, agreement"),
    ("agreement >= champion", "agreement is one value shared by both models"),
    ("drift: fine", "'fine' is not a monitoring status. Allowed: ok, warning, drift, error"),
    ("__import__('os').system('true') >= 1", "cannot be read"),
    ("accuracy >= champion * 2", "cannot be read"),
    ("", "must be a non-empty string"),
])
def test_errors_name_the_criterion_and_the_allowed_forms(text, message):
    with pytest.raises(UsageError) as info:
        parse_criterion(text)
    assert message in str(info.value)


def test_a_single_string_is_one_criterion():
    assert [c.metric for c in parse_criteria("p99_ms <= 5")] == ["p99_ms"]
    assert [c.metric for c in parse_criteria(["p99_ms <= 5", "drift: ok"])] == ["p99_ms", "drift"]
