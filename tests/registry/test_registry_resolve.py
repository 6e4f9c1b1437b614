"""Model references: every accepted form, and NotFoundError with the closest matches."""

from __future__ import annotations

import pytest
from registry_helpers import add_version, start_run

from nbops.exceptions import NotFoundError, UsageError
from nbops.registry import ModelSpec, parse_ref, resolve, set_alias


@pytest.mark.parametrize(("ref", "spec"), [
    ("churn", ModelSpec("churn")),
    ("churn/3", ModelSpec("churn", version="3")),
    ("churn/03", ModelSpec("churn", version="3")),
    ("churn@prod", ModelSpec("churn", alias="prod")),
    ("models:/churn/3", ModelSpec("churn", version="3")),
    ("models:/churn@prod", ModelSpec("churn", alias="prod")),
    ("  churn@prod ", ModelSpec("churn", alias="prod")),
])
def test_parse_ref_accepts_every_form(ref, spec):
    assert parse_ref(ref) == spec


@pytest.mark.parametrize("ref", ["", "churn/latest", "@prod", "churn@", "models:/", "a/b/3"])
def test_parse_ref_rejects_malformed_refs_listing_the_forms(ref):
    with pytest.raises(UsageError, match="name@alias"):
        parse_ref(ref)


@pytest.fixture()
def churn(client):
    run_id = start_run(client, "train")
    for _ in range(3):
        add_version(client, "churn", run_id)
    add_version(client, "churn-small", run_id)
    set_alias("churn", "prod", 2)
    set_alias("churn", "staging", 3)
    return run_id


def test_resolve_every_form_to_the_right_version(churn):
    assert resolve("churn").version == "3"
    assert resolve("churn@latest").version == "3"
    assert resolve("churn/1").version == "1"
    assert resolve("churn@prod").version == "2"
    assert resolve("models:/churn@staging").version == "3"
    info = resolve("models:/churn/2")
    assert (info.name, info.run_id, info.aliases) == ("churn", churn, ["prod"])
    assert info.ref == "churn/2"


def test_unknown_model_names_the_closest(churn):
    with pytest.raises(NotFoundError, match=r"No registered model named 'chrun'.*Did you mean "
                                            r"'churn'"):
        resolve("chrun@prod")


def test_unknown_alias_names_the_closest_and_the_aliases(churn):
    with pytest.raises(NotFoundError) as info:
        resolve("churn@prd")
    message = str(info.value)
    assert "no alias 'prd'" in message and "Did you mean 'prod'" in message
    assert "Its aliases: prod, staging" in message


def test_unknown_version_lists_the_versions(churn):
    with pytest.raises(NotFoundError, match=r"no version 7\..*Its versions: 1, 2, 3"):
        resolve("churn/7")


def test_model_without_versions(client):
    client.create_registered_model("empty")
    with pytest.raises(NotFoundError, match="no versions yet.*log_model"):
        resolve("empty")
