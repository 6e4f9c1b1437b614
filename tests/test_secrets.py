"""A run seeded with fake secrets everywhere leaves none in the store, the artifacts or the spool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from nbops.magics import NbopsMagics
from nbops.tracking.redact import REDACTED, Redactor

# Fake credentials in the shapes real ones have (none of these is valid anywhere).
AWS_ID = "AKIA" + "Q7XJ3KZP2M4N6B8V"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "FAKEKEY123"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITLAB = "glpat-" + "x1Y2z3A4b5C6d7E8f9G0"
SLACK = "xoxb-" + "123456789012-abcdefghijklmnop"
JWT = ("eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + "c2lnbmF0dXJlLXNpZ25hdHVyZQ")
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + "BKcwggSjAgEAAoIBAQC7fake"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
PASSWORD = "correct-horse-battery-" + "staple-42"
SECRETS = [AWS_ID, AWS_SECRET, GITHUB, GITLAB, SLACK, JWT, PEM_BODY, PASSWORD]


def _scan(root: Path) -> list[str]:
    """Every secret found in any file under root (SQLite databases included, as bytes)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{s[:12]}… in {path}" for s in SECRETS if s.encode() in data]
    return found


def test_no_secret_reaches_the_store(tracker, project, client, monkeypatch):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    cfg = project / "config.yaml"
    cfg.write_text("db: sqlite\n")
    subprocess.run(["git", "add", "."], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.email=t@e.com", "-c", "user.name=t", "commit", "-qm", "x"],
                   cwd=project, check=True)
    cfg.write_text(f"db: sqlite\npassword: '{PASSWORD}'\nprivate_key: \"{PEM_BODY}\"\n"
                   f"deploy_key: \"{PEM}\"\n")  # an uncommitted change: lands in git diff

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB)
    monkeypatch.setenv("SOME_SETTING", SLACK)  # an innocent name, a secret shape
    monkeypatch.setattr(sys, "argv", ["train.py", "--token", GITHUB, f"--api-key={GITLAB}"])

    start_ipython()
    shell = InteractiveShell.instance()
    shell.register_magics(NbopsMagics(shell, tracker))
    cell = (
        f"%%track seeded --param db_password={PASSWORD} --tag auth_token={JWT}\n"
        f"api_key = '{GITLAB}'\n"
        f"header = 'Bearer {JWT}'\n"
        f"aws = '{AWS_ID}'\n"
        "import nbops\n"
        f"nbops.log_params({{'secret_key': '{AWS_SECRET}', 'note': 'uses {SLACK}'}})\n"
        f"nbops.set_tags({{'github': '{GITHUB}'}})\n"
        f"raise ValueError('login failed for token {GITHUB}')\n"
    )
    result = shell.run_cell(cell)
    assert isinstance(result.error_in_exec, ValueError)
    assert tracker.logger.flush(60) == 0

    (run,) = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
              if r.info.run_name == "seeded"]
    assert run.data.params["api_key"] == REDACTED
    assert run.data.params["db_password"] == REDACTED
    assert run.data.tags["github"] == REDACTED
    assert REDACTED in run.data.tags["nbops.error.message"]
    leaks = _scan(project / ".nbops")
    assert leaks == [], leaks


@pytest.mark.parametrize(
    ("key", "value", "redacted"),
    [
        ("GITHUB_TOKEN", "abc", True),
        ("db_password", "x", True),
        ("OAuthToken", "x", True),
        ("aws_secret_access_key", "x", True),
        ("private_key_path", "/k", True),
        ("max_tokens", 512, False),
        ("tokenizer", "bert-base", False),
        ("author", "ada", False),
        ("learning_rate", "0.1", False),
        ("note", f"see {AWS_ID}", True),
    ],
)
def test_redaction_by_name_and_shape(key, value, redacted):
    out = Redactor().value(key, value)
    assert (out != value) is redacted
    if redacted:
        assert REDACTED in str(out)


def test_redaction_in_text_keeps_code_readable():
    r = Redactor()
    code = f"token = '{GITHUB}'\nmodel = train(lr=0.1)\npassword = getpass()\n"
    out = r.text(code)
    assert GITHUB not in out
    assert "model = train(lr=0.1)" in out and "password = getpass()" in out
    assert r.text(f"run --password {PASSWORD}") == f"run --password {REDACTED}"
    assert PEM_BODY not in r.text(PEM)


def test_allow_and_deny_patterns():
    r = Redactor(deny=[r"^customer_"], allow=[r"^auth_mode$"])
    assert r.value("customer_id", "c-123") == REDACTED
    assert r.value("auth_mode", "oauth") == "oauth"
    assert r.value("auth_mode", GITHUB) == REDACTED  # shapes are always redacted
