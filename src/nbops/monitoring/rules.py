"""Threshold rules that turn monitoring metrics into a status.

A monitoring config is a YAML file or a dict::

    on_missing: ignore            # ignore | warning | error  (a rule's metric is absent)
    rules:
      - drift.share > 0.3 -> drift
      - drift.*.score >= 0.2 -> warning          # glob over metric names: fires on any match
      - accuracy drops by > 5 points -> warning  # needs a baseline; points = 0.01 absolute
      - rmse rises by > 10 % -> warning          # % is relative to the baseline value
      - name: data quality
        when: quality.errors > 0
        status: error

Grammar of a rule (parsed with a regular expression, never evaluated)::

    <metric> <op> <number> -> <status>
    <metric> (drops|rises) by (>|>=) <number> [points|%] -> <status>

``<metric>``: letters, digits and ``_ . - / * ? [ ]``; ``<op>``: ``> >= < <= == !=``;
``<status>``: ``warning``, ``drift`` or ``error``. The resulting status is the most severe
fired one (ok < warning < drift < error).

Example:
    >>> from nbops.monitoring import evaluate, load_rules
    >>> rules = load_rules({"rules": ["drift.share > 0.3 -> drift",
    ...                               "accuracy drops by > 5 points -> warning"]})
    >>> s = evaluate(rules, {"drift.share": 0.1, "accuracy": 0.80}, baseline={"accuracy": 0.9})
    >>> s.status, [f["rule"] for f in s.fired]
    ('warning', ['accuracy drops by > 5 points -> warning'])
"""

from __future__ import annotations

import fnmatch
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import UsageError, closest

__all__ = ["STATUSES", "Rule", "RuleSet", "Status", "evaluate", "load_rules", "parse_rule"]

STATUSES = ("ok", "warning", "drift", "error")
RULE_STATUSES = STATUSES[1:]
ON_MISSING = ("ignore", "warning", "error")
CONFIG_KEYS = ("rules", "on_missing", "alert")
RULE_KEYS = ("name", "when", "status")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}
_METRIC = r"(?P<metric>[A-Za-z0-9_.\-/*?\[\]]+)"
_NUMBER = r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_COMPARE = re.compile(rf"^\s*{_METRIC}\s*(?P<op>>=|<=|==|!=|>|<)\s*{_NUMBER}\s*$")
_CHANGE = re.compile(
    rf"^\s*{_METRIC}\s+(?P<dir>drops|rises)\s+by\s*(?P<op>>=|>)\s*{_NUMBER}\s*"
    r"(?P<unit>points|%)?\s*$"
)
_HELP = ("Write '<metric> <op> <number> -> <status>' (op: > >= < <= == !=) or "
         "'<metric> drops|rises by > <number> [points|%] -> <status>', with status one of "
         f"{list(RULE_STATUSES)}.")


@dataclass(frozen=True)
class Rule:
    """One parsed rule."""

    text: str
    metric: str
    op: str
    value: float
    status: str
    change: str | None = None
    """'drops' or 'rises' for rules relative to a baseline."""
    unit: str | None = None
    """None (metric units), 'points' (0.01) or '%' (relative to the baseline)."""
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.text

    def observed(self, current: float, baseline: float | None) -> float | None:
        """The quantity compared with ``value`` (None when a baseline is needed and absent)."""
        if self.change is None:
            return current
        if baseline is None:
            return None
        delta = baseline - current if self.change == "drops" else current - baseline
        if self.unit == "points":
            return delta * 100.0
        if self.unit == "%":
            return math.inf if baseline == 0 and delta > 0 else (
                0.0 if baseline == 0 else delta / abs(baseline) * 100.0)
        return delta

    def fires(self, current: float, baseline: float | None) -> bool:
        obs = self.observed(current, baseline)
        return obs is not None and not math.isnan(obs) and OPS[self.op](obs, self.value)


def parse_rule(text: str, *, status: str | None = None, name: str | None = None,
               where: str = "rule") -> Rule:
    """Parse ``'<condition> -> <status>'`` (or a bare condition when ``status`` is given).

    Example:
        >>> from nbops.monitoring.rules import parse_rule
        >>> r = parse_rule("accuracy drops by > 5 points -> warning")
        >>> r.metric, r.change, r.value, r.unit, r.status
        ('accuracy', 'drops', 5.0, 'points', 'warning')
    """
    if not isinstance(text, str):
        raise UsageError(f"{where}: expected a string, got {type(text).__name__}. {_HELP}")
    cond = text
    if "->" in text:
        if status is not None:
            raise UsageError(f"{where} {text!r}: give the status either after '->' or as "
                             "'status:', not both.")
        cond, _, status = text.rpartition("->")
        status = status.strip()
    if status is None:
        raise UsageError(f"{where} {text!r} has no status. {_HELP}")
    if status not in RULE_STATUSES:
        raise UsageError(f"{where} {text!r}: status {status!r} is not allowed."
                         f"{closest(status, RULE_STATUSES)} Allowed: {list(RULE_STATUSES)}.")
    m = _COMPARE.match(cond)
    if m:
        return Rule(text.strip(), m["metric"], m["op"], float(m["value"]), status, name=name)
    m = _CHANGE.match(cond)
    if m:
        return Rule(text.strip(), m["metric"], m["op"], float(m["value"]), status,
                    change=m["dir"], unit=m["unit"], name=name)
    raise UsageError(f"{where} {text!r} cannot be parsed. {_HELP}")


@dataclass(frozen=True)
class RuleSet:
    """Parsed monitoring config."""

    rules: tuple[Rule, ...]
    on_missing: str = "ignore"
    alert: Mapping[str, Any] = field(default_factory=dict)


def load_rules(config: str | Path | Mapping[str, Any] | Sequence[str] | RuleSet) -> RuleSet:
    """Validate a monitoring config (YAML path, dict, or a list of rule strings).

    Example:
        >>> from nbops.monitoring import load_rules
        >>> load_rules(["drift.share > 0.3 -> drift"]).rules[0].metric
        'drift.share'
    """
    if isinstance(config, RuleSet):
        return config
    if isinstance(config, (str, Path)):
        import yaml

        path = Path(config)
        if not path.is_file():
            raise UsageError(f"Monitoring config {str(path)!r} does not exist. Pass a YAML file "
                             "path, a dict, or a list of rule strings.")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise UsageError(f"Monitoring config {str(path)!r} is not valid YAML: {e}") from None
    if isinstance(config, Sequence) and not isinstance(config, str):
        config = {"rules": list(config)}
    if not isinstance(config, Mapping):
        raise UsageError(f"A monitoring config must be a mapping with a 'rules' list, got "
                         f"{type(config).__name__}.")
    unknown = [k for k in config if k not in CONFIG_KEYS]
    if unknown:
        raise UsageError(f"Unknown monitoring config key {unknown[0]!r}."
                         f"{closest(str(unknown[0]), CONFIG_KEYS)} Allowed: {list(CONFIG_KEYS)}.")
    raw = config.get("rules")
    if not isinstance(raw, list) or not raw:
        raise UsageError("A monitoring config needs 'rules': a non-empty list of rules. " + _HELP)
    on_missing = config.get("on_missing", "ignore")
    if on_missing not in ON_MISSING:
        raise UsageError(f"on_missing={on_missing!r} is not allowed; use one of {list(ON_MISSING)}.")
    alert = config.get("alert") or {}
    if not isinstance(alert, Mapping):
        raise UsageError("'alert' must be a mapping such as {url: https://..., timeout: 5}.")
    rules: list[Rule] = []
    for i, item in enumerate(raw, 1):
        where = f"rule #{i}"
        if isinstance(item, str):
            rules.append(parse_rule(item, where=where))
        elif isinstance(item, Mapping):
            bad = [k for k in item if k not in RULE_KEYS]
            if bad:
                raise UsageError(f"{where}: unknown key {bad[0]!r}.{closest(str(bad[0]), RULE_KEYS)}"
                                 f" Allowed: {list(RULE_KEYS)}.")
            if "when" not in item:
                raise UsageError(f"{where}: a rule mapping needs 'when: <condition>'. {_HELP}")
            name = item.get("name")
            rules.append(parse_rule(item["when"], status=item.get("status"),
                                    name=None if name is None else str(name),
                                    where=f"{where} ({name})" if name else where))
        else:
            raise UsageError(f"{where}: expected a string or a mapping, got "
                             f"{type(item).__name__}. {_HELP}")
    return RuleSet(tuple(rules), on_missing, dict(alert))


@dataclass
class Status:
    """Outcome of :func:`evaluate`: the status and the rules that fired."""

    status: str
    fired: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "fired": self.fired, "missing": self.missing}


def _worst(a: str, b: str) -> str:
    return a if STATUSES.index(a) >= STATUSES.index(b) else b


def evaluate(
    rules: RuleSet | Mapping[str, Any] | Sequence[str] | str | Path,
    metrics: Mapping[str, float],
    baseline: Mapping[str, float] | None = None,
) -> Status:
    """Apply the rules to ``metrics`` (and ``baseline`` for drop/rise rules).

    A rule whose metric (or baseline) is absent is listed in ``Status.missing`` and changes
    the status only if the config says ``on_missing: warning`` or ``error``.

    Example:
        >>> from nbops.monitoring import evaluate
        >>> evaluate(["drift.*.score >= 0.2 -> warning"], {"drift.age.score": 0.25}).fired[0]["metric"]
        'drift.age.score'
    """
    rs = load_rules(rules)
    status = "ok"
    out = Status(status)
    for rule in rs.rules:
        keys = sorted(k for k in metrics if fnmatch.fnmatchcase(k, rule.metric))
        missing_reason = None
        if not keys:
            missing_reason = f"no metric matches {rule.metric!r}{closest(rule.metric, metrics)}"
        elif rule.change and (baseline is None or not any(k in baseline for k in keys)):
            missing_reason = f"no baseline value for {rule.metric!r}"
        if missing_reason:
            out.missing.append({"rule": rule.label, "reason": missing_reason.strip()})
            if rs.on_missing != "ignore":
                status = _worst(status, rs.on_missing)
            continue
        for k in keys:
            base = None if baseline is None else baseline.get(k)
            value = float(metrics[k])
            if rule.fires(value, None if base is None else float(base)):
                out.fired.append({"rule": rule.label, "metric": k, "value": value,
                                  "baseline": base, "status": rule.status})
                status = _worst(status, rule.status)
    out.status = status
    return out
