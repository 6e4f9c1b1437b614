"""The public audit API a server writes its swaps with: a record lands in the model's alias
audit trail after the newest one, and an unknown action is refused naming the known ones."""

from __future__ import annotations

import pytest

from nbops.exceptions import UsageError
from nbops.registry import history
from nbops.registry.audit import ACTIONS, record


def test_a_serve_record_lands_last_in_the_trail_and_unknown_actions_are_refused(project_dir):
    before = history("tiny", "prod")
    rec = record("tiny", "prod", "1", "1", "serve", "a server reloaded v1")
    after = history("tiny", "prod")
    assert after[:-1] == before and after[-1] == rec
    assert (rec.action, rec.from_version, rec.to_version, rec.reason) == (
        "serve", "1", "1", "a server reloaded v1")
    assert rec.millis > max((r.millis for r in before), default=0)
    with pytest.raises(UsageError, match="Unknown audit action 'deploy'; use one of "
                       + ", ".join(ACTIONS)):
        record("tiny", "prod", "1", "2", "deploy")
