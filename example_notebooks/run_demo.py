"""`make demo`: the whole continuous-training loop, headless, on the embedded store.

    train → package → serve → traffic with injected drift → monitor → retrain (triggered by the
    scheduler) → shadow traffic → gate → promote → the running server follows

Each step prints what happened, and the command that does the same by hand, typed from the
folder the demo was started in. A second run starts again from the first model: it moves
@champion and @challenger back to v1 and says so. Usage: python example_notebooks/run_demo.py
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START = Path.cwd()  # where the user typed the command: printed commands are typed from here
MODEL = "demo-classifier"
SHIFT = 3.0  # the drift injected into the first four features of the served traffic
CRITERIA = ["accuracy >= champion", "shadow_agreement >= 0.5", "shadow_p99_ms <= 1000"]


def main() -> int:
    os.chdir(ROOT)  # the embedded store lives in <project root>/.nbops
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from nbops.config import load_settings

    settings = load_settings()
    print(f"store: {settings.tracking_uri}")
    timings = loop(settings)
    if timings is None:
        return 1
    out = HERE / "output" / "demo_timings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(timings, indent=2))
    print(f"\nTimings of this loop: {out.relative_to(ROOT)}")
    print("Look at it:")
    print("  " + command("mlflow", "ui", "--backend-store-uri", settings.tracking_uri))
    print("  " + command("nbops", "ct", "status", MODEL))
    print("  " + command("nbops", "lineage", f"{MODEL}@champion"))
    print("  " + command("nbops", "schedule", "history", "retrain-on-drift"))
    return 0


def loop(settings) -> dict[str, float] | None:
    import nbops
    from nbops.pipeline import run_pipeline, schedule
    from nbops.pipeline.spec import notebook_pipeline
    from nbops.tracking.logger import replay

    t0 = time.monotonic()
    step(1, "train → package", command("nbops", "run", HERE / "pipeline.yaml", "-p", "n_rows=2000",
                                       "--only", "generate", "--only", "train", "--only",
                                       "package"))
    result = run_pipeline(HERE / "pipeline.yaml", params={"n_rows": 2000},
                          only=["generate", "train", "package"], quiet=True)
    replay(settings, timeout=60)  # anything a kernel could not ship before it stopped
    if not result.ok:
        print("✗ the pipeline failed; `nbops runs example-pipeline` names the step and the cell.")
        return None
    first = result.steps["train"].outputs["model_uri"].rsplit("/", 1)[1]
    was = {alias: alias_version(nbops, alias) for alias in ("champion", "challenger")}
    nbops.registry.set_alias(MODEL, "champion", first, reason="the demo's first model")
    nbops.registry.set_alias(MODEL, "challenger", first, reason="no challenger yet")
    print(f"  {MODEL} v{first} @champion, packaged as {result.steps['package'].outputs['package_uri']}")
    moved = [f"@{alias} v{version} → v{first}" for alias, version in was.items()
             if version not in (None, first)]
    if moved:  # a second demo starts from the same first model (its pipeline run is cached)
        print(f"  reset from an earlier demo: {', '.join(moved)} (`nbops registry history {MODEL}`"
              " lists every move)")

    step(2, "serve", command("nbops", "serve", f"{MODEL}@champion", "--shadow", "challenger",
                             "--poll", "0.5"))
    server = nbops.serve(f"{MODEL}@champion", shadow="challenger", poll=0.5).wait(180)
    try:
        print(f"  listening on {server.url}; the shadow mirrors every request to @challenger")
        return served_loop(settings, server, first, t0, nbops, schedule, run_pipeline,
                           notebook_pipeline)
    finally:
        server.stop()


def served_loop(settings, server, first, t0, nbops, schedule, run_pipeline, notebook_pipeline
                ) -> dict[str, float] | None:
    step(3, "traffic with injected drift", f"400 requests, features f0-f3 shifted by {SHIFT}, "
         "labels sent back as they arrive")
    rows, labels = traffic(400, seed=1)
    send(server.url, rows, labels, nbops)
    print(f"  {len(rows)} requests answered by v{first}, {len(labels)} labels joined")

    step(4, "monitor", "monitor.ipynb on what the server answered (its request log with the "
         "labels)")
    monitor = run_pipeline(notebook_pipeline(HERE / "monitor.ipynb", {
        "model_uri": f"models:/{MODEL}@champion", "request_log_window": "1h"}), force=True,
        quiet=True)
    status = monitor.steps["monitor"].outputs.get("status", "error")
    drift_at = time.monotonic()
    print(f"  monitoring status of v{first}: {status} (tag nbops.monitor.status)")

    step(5, "retrain, triggered", "the scheduler's next fire time of retrain.yaml (trigger: "
         "monitor demo-classifier@champion, status drift or warning)")
    schedule.add("retrain-on-drift", "* * * * *", HERE / "retrain.yaml",
                 trigger={"monitor": f"{MODEL}@champion", "status": ["drift", "warning"],
                          "cooldown": 0},  # the demo may run again at once
                 now=datetime.now(UTC) - timedelta(seconds=60))  # a fire time is due now
    schedule.run_scheduler(stop_after=0)  # one check, as `nbops scheduler` makes every tick
    retrained_at = time.monotonic()
    entries = schedule.history("retrain-on-drift")
    added = max(i for i, e in enumerate(entries) if e["event"] == "added")
    events = entries[added + 1:]  # this demo's, not those of an earlier one
    for event in events:
        print(f"  {event['event']} at fire time {event['fire_time']}: "
              + (event.get("reason") or event.get("error") or event.get("status", "")))
    if not any(e.get("status") == "succeeded" for e in events):
        print("✗ no retrain ran; `nbops schedule history retrain-on-drift` says why.")
        return None
    challenger = nbops.registry.resolve(f"{MODEL}@challenger").version
    print(f"  {MODEL} v{challenger} @challenger, trained on the drifted window")
    print("  lineage: " + nbops.lineage(f"{MODEL}/{challenger}", direction="upstream")
          .to_text().replace("\n", "\n  "))

    step(6, "shadow traffic", f"more drifted requests: v{first} answers, the shadow follows "
         f"@challenger to v{challenger} and predicts the same requests")
    sent = 0
    shadow_from = time.monotonic()
    while shadow_count(nbops, challenger) < 200 and sent < 2000:
        rows, labels = traffic(50, seed=2 + sent)
        send(server.url, rows, labels, nbops)
        sent += len(rows)
        time.sleep(0.3)  # the shadow predicts in batches, off the primary's path
    print(f"  {sent} requests sent; {shadow_count(nbops, challenger)} shadow predictions of "
          f"v{challenger} in the request log")

    window = HERE / "output" / "retrain" / "gate_window.csv"
    step(7, "gate", command("nbops", "gate", MODEL, "--data", window, "--label-column", "label",
                            *(word for c in CRITERIA for word in ("-c", c)),
                            "--reason", "drift retrain", "--cooldown", "0"))
    gate_from = time.monotonic()
    result = nbops.gate(MODEL, data=window, label_column="label", criteria=CRITERIA,
                        reason="drift retrain", cooldown=0)  # the demo may run again at once
    promoted_at = time.monotonic()
    print("  " + result.to_text().replace("\n", "\n  "))
    if result.decision != "promoted":
        return None

    step(8, "the server follows", f"POST {server.url}/nbops/v1/predict until v{challenger} "
         "answers")
    answered = wait_for(lambda: predict(server.url, rows[0])["version"] == challenger, 30)
    followed_at = time.monotonic()
    print(f"  v{challenger} answers {followed_at - promoted_at:.1f} s after the promotion"
          if answered else "✗ the server still answers with the old version")
    return {"loop_s": round(followed_at - t0, 2),
            "drift_to_promotion_s": round(promoted_at - drift_at, 2),
            "triggered_retrain_s": round(retrained_at - drift_at, 2),
            "shadow_traffic_s": round(gate_from - shadow_from, 2),
            "gate_s": round(promoted_at - gate_from, 2),
            "promotion_to_serving_s": round(followed_at - promoted_at, 2)}


# -- helpers -----------------------------------------------------------------------------------


def step(n: int, title: str, what: str) -> None:
    print(f"\n▸ {n}. {title}: {what}", flush=True)


def command(program: str, *args: str | Path) -> str:
    """A command line that works typed from START: this environment's ``program`` when it has
    one, paths relative to START (absolute when outside it)."""
    installed = Path(sys.executable).parent / program
    words = [installed if installed.exists() else program, *args]
    return shlex.join(shown(w) if isinstance(w, Path) else w for w in words)


def shown(path: Path) -> str:
    path = path.absolute()
    return str(path.relative_to(START)) if path.is_relative_to(START) else str(path)


def alias_version(nbops, alias: str) -> str | None:
    from nbops.exceptions import NotFoundError

    try:
        return nbops.registry.resolve(f"{MODEL}@{alias}").version
    except NotFoundError:  # the first demo in this store
        return None


def traffic(n: int, seed: int):
    """Rows like generate_data.ipynb's (same centres), first four features shifted."""
    import numpy as np

    centers = np.random.default_rng(0).normal(size=(2, 16)) * 1.5  # generate_data, seed 0
    rng = np.random.default_rng(100 + seed)
    labels = rng.integers(0, 2, size=n)
    rows = centers[labels] + rng.normal(size=(n, 16))
    rows[:, :4] += SHIFT
    return rows.round(6).tolist(), labels.tolist()


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def predict(url: str, row: list[float]) -> dict:
    return post(f"{url}/nbops/v1/predict", {"inputs": [row]})


def send(url: str, rows: list, labels: list, nbops) -> None:
    for row, y in zip(rows, labels, strict=True):
        nbops.serve.label(predict(url, row)["request_id"], y, model=MODEL)


def shadow_count(nbops, version: str) -> int:
    frame = nbops.serve.read_log(MODEL, routes=("shadow",))
    return 0 if frame.empty else int((frame["version"].astype(str) == version).sum())


def wait_for(ready, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.2)
    return bool(ready())


if __name__ == "__main__":
    sys.exit(main())
