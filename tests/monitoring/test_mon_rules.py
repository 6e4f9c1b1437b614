"""Rules: parsing, validation errors that name the rule, evaluation."""

from __future__ import annotations

import pytest

from nbops.exceptions import UsageError
from nbops.monitoring import evaluate, load_rules
from nbops.monitoring.rules import parse_rule


def test_yaml_config(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "on_missing: warning\n"
        "rules:\n"
        "  - drift.share > 0.3 -> drift\n"
        "  - accuracy drops by > 5 points -> warning\n"
        "  - name: data quality\n"
        "    when: quality.errors > 0\n"
        "    status: error\n",
        encoding="utf-8",
    )
    rs = load_rules(path)
    assert [r.status for r in rs.rules] == ["drift", "warning", "error"]
    assert rs.rules[2].label == "data quality" and rs.on_missing == "warning"


@pytest.mark.parametrize(
    ("metrics", "baseline", "status"),
    [
        ({"drift.share": 0.1, "accuracy": 0.90, "quality.errors": 0}, {"accuracy": 0.91}, "ok"),
        ({"drift.share": 0.1, "accuracy": 0.80, "quality.errors": 0}, {"accuracy": 0.91}, "warning"),
        ({"drift.share": 0.5, "accuracy": 0.80, "quality.errors": 0}, {"accuracy": 0.91}, "drift"),
        ({"drift.share": 0.5, "accuracy": 0.80, "quality.errors": 2}, {"accuracy": 0.91}, "error"),
    ],
)
def test_evaluate_worst_status_wins(metrics, baseline, status):
    rules = {"rules": ["drift.share > 0.3 -> drift", "accuracy drops by > 5 points -> warning",
                       {"when": "quality.errors > 0", "status": "error"}]}
    assert evaluate(rules, metrics, baseline).status == status


def test_units_glob_and_missing():
    s = evaluate(["rmse rises by > 10 % -> warning", "drift.*.score >= 0.2 -> drift",
                  "roc_auc < 0.7 -> warning"],
                 {"rmse": 1.2, "drift.a.score": 0.1, "drift.b.score": 0.3}, {"rmse": 1.0})
    assert s.status == "drift"
    assert [(f["rule"], f["metric"]) for f in s.fired] == [
        ("rmse rises by > 10 % -> warning", "rmse"),
        ("drift.*.score >= 0.2 -> drift", "drift.b.score"),
    ]
    assert s.missing == [{"rule": "roc_auc < 0.7 -> warning",
                          "reason": "no metric matches 'roc_auc'"}]
    assert evaluate({"rules": ["roc_auc < 0.7 -> warning"], "on_missing": "error"}, {}).status == "error"
    # a drop rule without a baseline is missing, not fired
    assert evaluate(["accuracy drops by > 1 -> warning"], {"accuracy": 0.1}).missing


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (["drift.share > 0.3 -> drfit"], r"rule #1 .*status 'drfit' is not allowed. Did you mean 'drift'"),
        (["drift.share >> 0.3 -> drift"], r"rule #1 'drift.share >> 0.3 -> drift' cannot be parsed"),
        (["__import__('os').system('x') > 1 -> error"], r"rule #1 .*cannot be parsed"),
        (["ok > 1 -> drift", "accuracy drops 5 -> warning"], r"rule #2 .*cannot be parsed"),
        ([{"name": "q", "when": "x > 1"}], r"rule #1 \(q\) 'x > 1' has no status"),
        ([{"when": "x > 1", "status": "warning", "level": 2}], r"unknown key 'level'"),
        ({"rule": ["x > 1 -> error"]}, r"Unknown monitoring config key 'rule'. Did you mean 'rules'"),
        ({"rules": []}, r"non-empty list"),
        ({"rules": ["x > 1 -> error"], "on_missing": "panic"}, r"on_missing='panic'"),
        ([42], r"rule #1: expected a string or a mapping"),
    ],
)
def test_parse_errors_name_the_rule(config, match):
    with pytest.raises(UsageError, match=match):
        load_rules(config)


def test_parse_rule_fields():
    r = parse_rule("accuracy drops by >= 2.5 points -> warning")
    assert (r.metric, r.change, r.op, r.value, r.unit) == ("accuracy", "drops", ">=", 2.5, "points")
    assert r.fires(0.875, 0.9) and not r.fires(0.89, 0.9)


def test_the_manual_lists_the_default_rules_of_a_check():
    """docs/monitoring.md's table of default rules is the list run_check applies."""
    import re
    from pathlib import Path

    from nbops.monitoring.model_check import DEFAULT_RULES

    page = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
    section = page.split("### The default rules", 1)[1].split("\n#", 1)[0]
    assert re.findall(r"^\| `([^`]+)` \|", section, flags=re.M) == DEFAULT_RULES
