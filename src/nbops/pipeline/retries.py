"""Retries: a failed attempt of a step with ``retries: N`` runs again after a backoff
(``retry_delay`` seconds, doubling each attempt), up to N more times."""

from __future__ import annotations

import time

from nbops.pipeline.spec import Step

__all__ = ["Retries"]


class Retries:
    """The steps waiting for another attempt, and when each is due."""

    def __init__(self) -> None:
        self.due_at: dict[str, float] = {}

    def schedule(self, step: Step, attempt: int) -> float | None:
        """Schedule the attempt after failed ``attempt`` (1-based) of ``step``; return its
        delay in seconds, or None when the step has no retry left."""
        if attempt > step.retries:
            return None
        delay = step.retry_delay * 2 ** (attempt - 1)
        self.due_at[step.name] = time.monotonic() + delay
        return delay

    def due(self, free: int) -> list[str]:
        """The steps whose retry is due, oldest first, at most ``free`` of them."""
        now = time.monotonic()
        due = sorted((t, n) for n, t in self.due_at.items() if t <= now)[:free]
        for _, name in due:
            del self.due_at[name]
        return [n for _, n in due]

    def poll_timeout(self, longest: float = 0.2) -> float:
        """How long to wait for a running step before the next retry is due."""
        if self.due_at:
            return max(0.0, min(longest, min(self.due_at.values()) - time.monotonic()))
        return longest
