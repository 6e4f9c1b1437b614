"""Gate criteria: small declared comparisons, parsed with a regular grammar (never ``eval``).

=====================================  ===============================================
criterion                              passes when
=====================================  ===============================================
``accuracy >= champion + 0.01``        the challenger's accuracy beats the champion's by 0.01
``rmse <= champion``                   the challenger's RMSE is no worse than the champion's
``p99_ms <= 5``                        the challenger's p99 latency is at most 5 ms
``agreement >= 0.9``                   both models agree on at least 90 % of the rows
``shadow_agreement >= 0.9``            ... on 90 % of the served requests (shadow traffic)
``shadow_p99_ms <= 5``                 the challenger's p99 latency as a shadow is at most 5 ms
``drift: ok``                          the champion's monitoring status is ``ok``
``drift: drift, warning``              ... is ``drift`` or ``warning`` (retrain on drift)
=====================================  ===============================================

Grammar: ``METRIC OP NUMBER``, ``METRIC OP champion [+|- NUMBER]`` or ``drift: STATUS[, ...]``,
with ``OP`` one of ``>= <= > < ==``. Metrics: :data:`METRICS`.

Example:
    >>> c = parse_criterion("accuracy >= champion + 0.01")
    >>> c.check({"accuracy": 0.93}, {"accuracy": 0.90})
    (True, 0.91)
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from nbops.exceptions import UsageError, closest

__all__ = ["DRIFT_STATUSES", "METRICS", "SHADOW_METRICS", "Criterion", "parse_criteria", "parse_criterion"]

#: metric name -> what it measures (``agreement`` is one value shared by both models)
METRICS = {
    "accuracy": "share of rows whose predicted class is the label (classification)",
    "rmse": "root mean squared error against the label (regression)",
    "p50_ms": "median latency of one batch, in milliseconds",
    "p99_ms": "99th percentile latency of one batch, in milliseconds",
    "agreement": "share of rows where challenger and champion predict alike",
    "shadow_agreement": "share of served requests (same request ids) where the challenger, "
                        "as a shadow, predicted what the champion answered",
    "shadow_p50_ms": "median latency of the challenger as a shadow, from the request log",
    "shadow_p99_ms": "99th percentile latency of the challenger as a shadow, from the request "
                     "log",
}
#: criteria on these are measured on shadow traffic (``nbops serve ... --shadow ALIAS``)
SHADOW_METRICS = ("shadow_agreement", "shadow_p50_ms", "shadow_p99_ms")
#: what ``drift:`` may list: the monitoring statuses, and ``unknown`` (never monitored)
DRIFT_STATUSES = ("ok", "warning", "drift", "error", "unknown")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_COMPARISON = re.compile(
    rf"^(?P<metric>[A-Za-z_][A-Za-z_0-9]*)\s*(?P<op>>=|<=|==|>|<)\s*"
    rf"(?:(?P<champion>champion)(?:\s*(?P<sign>[+-])\s*(?P<delta>{_NUMBER}))?|(?P<number>{_NUMBER}))$")
_DRIFT = re.compile(r"^drift\s*:\s*(?P<statuses>[A-Za-z]+(?:\s*,\s*[A-Za-z]+)*)$")
_HELP = ("Write 'METRIC OP NUMBER' (p99_ms <= 5), 'METRIC OP champion [+|- NUMBER]' "
         "(accuracy >= champion + 0.01) or 'drift: STATUS[, STATUS]' (drift: ok); "
         f"OP is one of {' '.join(_OPS)}; metrics: {', '.join(METRICS)}.")


@dataclass(frozen=True)
class Criterion:
    """One parsed criterion; ``text`` is how the user wrote it."""

    text: str
    metric: str  # a key of METRICS, or "drift"
    op: str = ""
    number: float | None = None  # absolute threshold, or None when relative to the champion
    delta: float = 0.0  # added to the champion's value when relative
    statuses: tuple[str, ...] = ()  # for drift

    @property
    def relative(self) -> bool:
        return self.metric != "drift" and self.number is None

    def threshold(self, champion: Mapping[str, float]) -> float:
        """The number the challenger's value is compared with."""
        if self.number is not None:
            return self.number
        return float(champion[self.metric]) + self.delta

    def check(self, challenger: Mapping[str, float], champion: Mapping[str, float]
              ) -> tuple[bool, float]:
        """(passes, threshold) for numeric criteria, given both models' metrics."""
        limit = self.threshold(champion)
        return bool(_OPS[self.op](float(challenger[self.metric]), limit)), limit

    def describe_threshold(self) -> str:
        if self.metric == "drift":
            return " or ".join(self.statuses)
        if self.number is not None:
            return f"{self.op} {self.number:g}"
        shift = f" {'+' if self.delta >= 0 else '-'} {abs(self.delta):g}" if self.delta else ""
        return f"{self.op} champion{shift}"


def parse_criterion(text: str) -> Criterion:
    """Parse one criterion; :class:`UsageError` naming it and the allowed forms otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"A gate criterion must be a non-empty string; got {text!r}. {_HELP}")
    clean = text.strip()
    drift = _DRIFT.match(clean)
    if drift:
        statuses = tuple(s.strip().lower() for s in drift["statuses"].split(","))
        for status in statuses:
            if status not in DRIFT_STATUSES:
                raise UsageError(f"Criterion {text!r}: {status!r} is not a monitoring status."
                                 f"{closest(status, DRIFT_STATUSES)} Allowed: "
                                 f"{', '.join(DRIFT_STATUSES)}.")
        return Criterion(clean, "drift", statuses=statuses)
    m = _COMPARISON.match(clean)
    if not m:
        raise UsageError(f"Criterion {text!r} cannot be read. {_HELP}")
    metric = m["metric"].lower()
    if metric not in METRICS:
        raise UsageError(f"Criterion {text!r}: unknown metric {m['metric']!r}."
                         f"{closest(metric, METRICS)} Allowed metrics: {', '.join(METRICS)}, "
                         "and 'drift: STATUS'.")
    if m["champion"] and metric in ("agreement", "shadow_agreement"):
        raise UsageError(f"Criterion {text!r}: {metric} is one value shared by both models; "
                         f"compare it with a number, e.g. '{metric} >= 0.9'.")
    if m["champion"]:
        delta = float(m["delta"] or 0.0) * (-1.0 if m["sign"] == "-" else 1.0)
        return Criterion(clean, metric, m["op"], None, delta)
    return Criterion(clean, metric, m["op"], float(m["number"]))


def parse_criteria(texts: Sequence[str] | str) -> list[Criterion]:
    """Parse every criterion (a single string counts as one); at least one is required."""
    items = [texts] if isinstance(texts, str) else list(texts or [])
    if not items:
        raise UsageError(f"A gate needs at least one criterion. {_HELP}")
    return [parse_criterion(t) for t in items]
