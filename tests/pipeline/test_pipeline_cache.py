"""The step cache: a hit for identical inputs, a miss when any part of the key changes."""

from __future__ import annotations

import json

from pipeline_support import write_spec

from nbops.pipeline.runner import run_pipeline

SPEC = """
name: cached
params:
  n: 3
steps:
  produce:
    notebook: produce.ipynb
    parameters: {n: "{{ params.n }}", out_path: out/numbers.txt}
    inputs: [extra.txt]
    outputs: [data_path, total]
"""


def test_cache_hit_and_a_miss_for_each_part_of_the_key(nbdir, tracker, client):
    (nbdir / "extra.txt").write_text("v1")
    spec = write_spec(nbdir, SPEC)

    def run(**kw):
        kw.setdefault("env_digest", "env-1")
        return run_pipeline(spec, tracker=tracker, quiet=True, **kw).steps["produce"]

    first = run()
    assert first.status == "succeeded"

    hit = run()  # same everything
    assert hit.status == "cached" and hit.cached_from == first.run_id
    assert hit.outputs == first.outputs
    tags = client.get_run(hit.run_id).data.tags
    assert tags["nbops.cached_from"] == first.run_id
    assert tags["nbops.cache_reason"] == f"cached: same inputs as run {first.run_id}"
    assert tags["nbops.step.status"] == "cached"

    assert run(params={"n": 4}).status == "succeeded"               # parameter change
    (nbdir / "extra.txt").write_text("v2")
    assert run().status == "succeeded"                              # input file change
    assert run(env_digest="env-2").status == "succeeded"            # environment change
    nb = json.loads((nbdir / "produce.ipynb").read_text())
    nb["cells"][1]["source"] += "\n# edited"
    (nbdir / "produce.ipynb").write_text(json.dumps(nb))
    edited = run(env_digest="env-2")
    assert edited.status == "succeeded"                             # notebook edit
    keys = {first.cache_key, edited.cache_key}
    assert len(keys) == 2

    # output noise (execution counts, outputs, metadata) is not part of the key
    nb["cells"][1]["execution_count"] = 7
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    nb["metadata"]["papermill"] = {"duration": 1.0}
    (nbdir / "produce.ipynb").write_text(json.dumps(nb))
    assert run(env_digest="env-2").status == "cached"

    # a declared output that no longer exists invalidates the cached run
    (nbdir / "out" / "numbers.txt").unlink()
    assert run(env_digest="env-2").status == "succeeded"


CHAIN = """
name: chain
params:
  n: 5
steps:
  produce:
    notebook: produce.ipynb
    parameters: {n: "{{ params.n }}", out_path: out/numbers.txt}
    outputs: [data_path, total]
  double:
    notebook: double.ipynb
    parameters: {data_path: "{{ steps.produce.outputs.data_path }}", out_path: out/doubled.txt}
    outputs: [doubled_path]
"""


def test_a_cache_hit_never_serves_outputs_overwritten_since(nbdir, tracker, client):
    """n=5, then n=3, then n=5 again: the outputs on disk are those of n=5, not stale n=3."""
    spec = write_spec(nbdir, CHAIN)
    numbers, doubled = nbdir / "out" / "numbers.txt", nbdir / "out" / "doubled.txt"

    def run(n):
        result = run_pipeline(spec, params={"n": n}, env_digest="env-1", tracker=tracker,
                              quiet=True)
        assert result.ok, {k: v.failure for k, v in result.steps.items()}
        return {name: step.status for name, step in result.steps.items()}, result

    assert run(5)[0] == {"produce": "succeeded", "double": "succeeded"}
    assert run(3)[0] == {"produce": "succeeded", "double": "succeeded"}
    assert numbers.read_text().split() == ["1", "2", "3"]

    statuses, third = run(5)  # the n=5 runs exist, but their files were overwritten by n=3
    assert statuses == {"produce": "succeeded", "double": "succeeded"}
    assert numbers.read_text().split() == ["1", "2", "3", "4", "5"]
    assert doubled.read_text().split() == ["2", "4", "6", "8", "10"]
    digest = client.get_run(third.steps["double"].run_id).data.tags[
        "nbops.output_digest.doubled_path"]
    assert digest.startswith("xxh3_128:")

    statuses, fourth = run(5)  # nothing changed since: both steps are hits, content verified
    assert statuses == {"produce": "cached", "double": "cached"}
    assert fourth.steps["double"].cached_from == third.steps["double"].run_id
    assert doubled.read_text().split() == ["2", "4", "6", "8", "10"]

    doubled.write_text("edited by hand")  # an output changed by hand is not served either
    assert run(5)[0] == {"produce": "cached", "double": "succeeded"}
    assert doubled.read_text().split() == ["2", "4", "6", "8", "10"]


def test_the_environment_digest_is_remembered_until_sys_path_changes(tmp_path, monkeypatch):
    from nbops.tracking.environment import installed_packages
    from nbops.tracking.environment import installed_packages_digest as environment_digest

    first = environment_digest(tmp_path)
    saved = json.loads((tmp_path / "environment-digest.json").read_text())
    assert saved["digest"] == first
    assert "nbops==" in saved["packages"]  # the list too: a run's requirements.txt
    saved["digest"] = "remembered"  # proves the next call reads the file, not the packages
    saved["packages"] = "remembered==1\n"
    (tmp_path / "environment-digest.json").write_text(json.dumps(saved))
    assert environment_digest(tmp_path) == "remembered"
    assert installed_packages(tmp_path) == ("remembered==1\n", "remembered")
    (tmp_path / "here").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path / "here"))  # a script's folder: not a package one
    assert environment_digest(tmp_path) == "remembered"
    (tmp_path / "site-packages").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path / "site-packages"))  # a package folder appeared
    assert environment_digest(tmp_path) == first


def test_a_step_run_records_the_environment_digest_of_its_cache_key(nbdir, tracker, client):
    """One digest names the environment: the step run's ``nbops.env.digest`` is the digest in
    its cache key (given back as ``env_digest``, the key is the same: a cache hit) and the one
    a tracked run of this interpreter records."""
    from nbops.tracking.run import track

    (nbdir / "extra.txt").write_text("v1")
    spec = write_spec(nbdir, SPEC)
    step = run_pipeline(spec, tracker=tracker, quiet=True).steps["produce"]
    assert step.status == "succeeded"
    tags = client.get_run(step.run_id).data.tags
    digest = tags["nbops.env.digest"]
    assert len(digest) == 64 and int(digest, 16) >= 0

    again = run_pipeline(spec, tracker=tracker, quiet=True, env_digest=digest).steps["produce"]
    assert again.status == "cached" and again.cache_key == step.cache_key == tags["nbops.cache_key"]
    assert client.get_run(again.run_id).data.tags["nbops.env.digest"] == digest

    with track("a tracked block", tracker=tracker) as run:
        run.log(x=1.0)
    assert run.wait(60)
    assert client.get_run(run.mlflow_run_id).data.tags["nbops.env.digest"] == digest


def test_a_step_remembered_before_its_run_reached_mlflow_is_still_a_hit(nbdir, tracker, client):
    """A step that ends before its records reach MLflow is remembered by its nbops id (a
    pipeline does not wait for MLflow); the next run finds it, names it by its MLflow id once
    it is there, and writes that id into the index."""
    (nbdir / "extra.txt").write_text("v1")
    spec = write_spec(nbdir, SPEC)
    first = run_pipeline(spec, tracker=tracker, quiet=True, env_digest="e").steps["produce"]
    index_file = tracker.settings.home / "pipeline-cache.json"
    index = json.loads(index_file.read_text())
    entry = index[first.cache_key]
    assert entry["run_uid"] and entry["run_id"] in (None, first.run_id)
    entry["run_id"] = None  # as the index holds it when the step ended first
    index_file.write_text(json.dumps(index))

    hit = run_pipeline(spec, tracker=tracker, quiet=True, env_digest="e").steps["produce"]
    assert hit.status == "cached" and hit.cached_from == first.run_id
    assert json.loads(index_file.read_text())[first.cache_key]["run_id"] == first.run_id
    assert client.get_run(hit.run_id).data.tags["nbops.cached_from"] == first.run_id
