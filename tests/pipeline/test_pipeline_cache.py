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
