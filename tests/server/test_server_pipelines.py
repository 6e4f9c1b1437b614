"""GET pipelines and POST pipelines/run: specs under the Jupyter root, their runs and steps, a
real ``nbops run`` started from the API (two steps, real kernels), a failing step's error."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from pipeline_seed import write_pipelines
from registry_seed import error_of
from tornado.httpclient import HTTPClientError


async def get(jp_fetch, *parts, **params):
    resp = await jp_fetch("nbops", "api", *parts, params=params or None)
    return json.loads(resp.body)


async def post(jp_fetch, *parts, body):
    resp = await jp_fetch("nbops", "api", *parts, method="POST", body=json.dumps(body))
    return resp.code, json.loads(resp.body)


@pytest.fixture()
def specs(jp_root_dir: Path) -> tuple[str, str]:
    (jp_root_dir / "pyproject.toml").write_text("[project]\nname = 'pipes'\n")
    (jp_root_dir / ".hidden").mkdir()
    (jp_root_dir / ".hidden" / "pipeline.yaml").write_text("name: hidden\n")
    return write_pipelines(jp_root_dir)


async def wait_for_run(jp_fetch, path: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = await get(jp_fetch, "pipelines")
        info = next(p for p in listing["pipelines"] if p["path"] == path)
        if info["runs"] and info["runs"][0]["status"] != "running":
            return info
        await asyncio.sleep(1)
    raise AssertionError(f"no finished run of {path} within {timeout} s")


async def test_pipelines_are_listed_with_steps_and_schedules(jp_fetch, specs, project,
                                                            jp_root_dir):
    listing = await get(jp_fetch, "pipelines")
    assert [p["path"] for p in listing["pipelines"]] == ["broken/pipeline.yaml",
                                                         "numbers/pipeline.yaml"]
    numbers = listing["pipelines"][1]
    assert (numbers["name"], numbers["experiment"], numbers["error"]) == (
        "numbers", "numbers-ui", None)
    assert [(s["name"], s["notebook"], s["depends_on"]) for s in numbers["steps"]] == [
        ("produce", "produce.ipynb", []), ("consume", "consume.ipynb", ["produce"])]
    assert numbers["runs"] == [] and numbers["schedules"] == []
    assert numbers["params"] == {"n": 4}

    from nbops.config import load_settings
    from nbops.pipeline import schedule

    schedule.add("nightly", "0 2 * * *", jp_root_dir / specs[0], timezone="UTC",
                 settings=load_settings(jp_root_dir))
    listing = await get(jp_fetch, "pipelines")
    [nightly] = listing["pipelines"][1]["schedules"]
    assert (nightly["name"], nightly["cron"], nightly["timezone"]) == ("nightly", "0 2 * * *",
                                                                       "UTC")
    assert nightly["next_run"].endswith("T02:00:00+00:00")
    assert nightly["last_event"] is None


async def test_run_now_runs_the_pipeline_and_its_steps_open(jp_fetch, specs, project,
                                                            jp_root_dir):
    code, started = await post(jp_fetch, "pipelines", "run",
                               body={"path": "numbers/pipeline.yaml", "params": {"n": 5}})
    assert code == 202 and started["pid"] > 0
    info = await wait_for_run(jp_fetch, "numbers/pipeline.yaml")
    run = info["runs"][0]
    log = (jp_root_dir / started["log"]).read_text()
    assert run["status"] == "succeeded", log
    assert [(s["name"], s["status"]) for s in run["steps"]] == [
        ("produce", "succeeded"), ("consume", "succeeded")]
    assert run["params"] == {"n": "5"}
    consume = run["steps"][1]["run_id"]
    snap = await get(jp_fetch, "runs", consume, "notebook")
    assert snap["path"] == "notebook/consume.ipynb"
    assert any("factor = 3" in "".join(c["source"]) for c in snap["notebook"]["cells"])

    # a failing step names its error and cell
    await post(jp_fetch, "pipelines", "run", body={"path": "broken/pipeline.yaml"})
    broken = (await wait_for_run(jp_fetch, "broken/pipeline.yaml"))["runs"][0]
    assert broken["status"] == "failed"
    step = broken["steps"][0]
    assert step["status"] == "failed"
    assert "ValueError: boom: y=2" in step["failure"] and "(cell 3)" in step["failure"]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"path": "nope/pipeline.yaml"}, 404, "No pipeline spec 'nope/pipeline.yaml'"),
    ({"path": ".hidden/pipeline.yaml"}, 404, "Known: broken/pipeline.yaml"),
    ({"path": "../etc/pipeline.yaml"}, 404, "under the Jupyter root"),
    ({}, 400, "needs 'path'"),
    ({"path": "numbers/pipeline.yaml", "params": [1]}, 400, "must be a JSON object"),
    ({"path": "numbers/pipeline.yaml", "params": {"a b": 1}}, 400, "is not valid"),
])
async def test_run_now_refuses_what_it_cannot_run(jp_fetch, specs, project, body, status, words):
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "pipelines", "run", body=body)
    code, answer = error_of(e.value)
    assert code == status
    assert words in answer["message"]


async def test_browser_run_now_needs_the_xsrf_token(jp_fetch, jp_serverapp, jp_http_port,
                                                    jp_base_url, specs, project, jp_root_dir):
    from http.cookies import SimpleCookie

    from test_server_auth import header_of, login_cookies, url
    from tornado.httpclient import AsyncHTTPClient

    cookies = await login_cookies(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    no_xsrf: SimpleCookie = SimpleCookie()
    for k, m in cookies.items():
        if k != "_xsrf":
            no_xsrf[k] = m.value
    with pytest.raises(HTTPClientError) as e:
        await AsyncHTTPClient().fetch(url(jp_http_port, jp_base_url, "pipelines/run"),
                                      method="POST", headers={"Cookie": header_of(no_xsrf)},
                                      body=json.dumps({"path": "numbers/pipeline.yaml"}))
    assert e.value.code == 403
    assert not (jp_root_dir / ".nbops" / "ui-runs").exists()  # nothing was started
