"""A routing file (`nbops serve --config routing.yaml`) serves like the flags it replaces, flags
given as well win, and a wrong file is refused at start naming the key and what to write."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

ROUTING = """\
model: tiny@prod
canary: {alias: challenger, percent: 50}
shadow: challenger
poll: 0.5
"""


def test_a_routing_file_serves_like_its_flags_and_flags_win(start_server, project_dir):
    path = project_dir / "routing.yaml"
    path.write_text(ROUTING)
    server = start_server(None, config=path)
    status = httpx.get(f"{server.url}/nbops/v1/status").json()
    assert status["canary_percent"] == 50.0 and status["poll_seconds"] == 0.5
    assert {r: v["version"] for r, v in status["routes"].items()} == {"primary": "1",
                                                                     "canary": "2"}
    assert status["shadow"]["ref"] == "tiny@challenger" and status["shadow"]["running"]

    server = start_server(None, config=path, canary="challenger=0%", poll=3)
    status = httpx.get(f"{server.url}/nbops/v1/status").json()
    assert status["canary_percent"] == 0.0 and status["poll_seconds"] == 3.0


@pytest.mark.parametrize(("text", "message"), [
    ("model: tiny@prod\ncanery: challenger=10%\n",
     "unknown key 'canery'. Did you mean 'canary'? Known keys: model, canary, shadow"),
    ("model: tiny@prod\nport: eighty\n", "port must be a number (whole); got 'eighty'"),
    ("model: tiny@prod\ncanary: challenger=300%\n",
     "canary takes ALIAS=PERCENT with PERCENT from 0 to 100, like 'challenger=10%'; got "
     "'challenger=300%'"),
    ("canary: challenger=10%\n", "Name the model to serve: `nbops serve NAME@ALIAS`, or "
     "'model: NAME@ALIAS' in the file given to --config."),
])
def test_a_wrong_routing_file_is_refused_naming_what_to_fix(project_dir, text, message):
    (project_dir / "bad.yaml").write_text(text)
    done = subprocess.run([sys.executable, "-m", "nbops", "serve", "--config", "bad.yaml"],
                          cwd=project_dir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in " ".join(done.stderr.split()), done.stderr
