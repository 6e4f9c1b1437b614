"""Every runnable example of the manual (docs/*.md) runs as written.

Each page runs in a fresh project folder (a ``pyproject.toml``, an empty embedded store and a
copy of ``example_notebooks/``), its code blocks top to bottom in one process, as a reader
would type them:

* a ```` ```python ```` block runs in one namespace shared by the page's Python blocks (as
  ``__main__``, so ``if __name__ == "__main__":`` guards run);
* a ```` ```bash ```` (``sh``, ``shell``) block runs with ``bash -e -o pipefail``, with the
  environment's ``nbops``, ``mlflow`` and ``python`` first on ``PATH``;
* other blocks (``yaml``, ``text``, output listings, no language) are not code and are not run.

Two HTML comments, on the line right before a block's opening fence, change that; they do
not show in the rendered manual:

* ``<!-- file: PATH -->``: the block is a file the page talks about: it is written to PATH
  (relative to the project folder) before the next blocks run, so a ``pipeline.yaml`` shown
  on a page is the one the page then runs;
* ``<!-- not-run: REASON -->``: the block is illustrative and cannot run here (it needs your
  own run id, a server that never returns, a cluster, ...). The reason is required.

Run one page with ``pytest tests/test_docs_examples.py -k pipelines``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from nbops_test_support import ROOT

DOCS = ROOT / "docs"
LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|file)\s*(?::\s*(?P<arg>.*?))?\s*-->\s*$")
PAGE_TIMEOUT = 1200


@dataclass(frozen=True)
class Block:
    """A fenced block of a page: what to do with it (``python``, ``bash``, ``file``,
    ``not-run``, ``text``) and where it is."""

    page: str
    line: int
    action: str
    code: str
    arg: str = ""  # the file path of a ``file`` block, the reason of a ``not-run`` one


def extract(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` in order, with their markers applied."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, lang = opening["indent"], opening["fence"], opening["lang"].lower()
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            text = lines[i]
            body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
            i += 1
        i += 1  # the closing fence
        marker = _marker_before(lines, start)
        action, arg = LANGUAGES.get(lang, "text"), ""
        if marker is not None:
            action, arg = marker
        blocks.append(Block(page.name, start + 1, action, "\n".join(body) + "\n", arg))
    return blocks


def _marker_before(lines: list[str], fence_index: int) -> tuple[str, str] | None:
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    found = MARKER.match(lines[j]) if j >= 0 else None
    return (found["kind"], found["arg"] or "") if found else None


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _runnable(page: Path) -> bool:
    return any(b.action in ("python", "bash") for b in extract(page))


# The driver runs one page's blocks in order in a fresh interpreter; it stops at the first
# block that fails and names it.
DRIVER = r'''
import json, subprocess, sys, traceback
from pathlib import Path


def main() -> None:
    blocks = json.loads(Path(sys.argv[1]).read_text())
    namespace = {"__name__": "__main__"}
    for block in blocks:
        where = f"docs/{block['page']}:{block['line']} ({block['action']} block)"
        print(f"--- {where}", flush=True)
        if block["action"] == "file":
            path = Path(block["arg"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block["code"])
        elif block["action"] == "bash":
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block["code"]],
                                  stdout=sys.stdout, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                print(f"FAILED: {where} exited {done.returncode}:\n{block['code']}", flush=True)
                sys.exit(1)
        else:
            try:
                exec(compile(block["code"], where, "exec"), namespace)
            except BaseException:
                print(f"FAILED: {where} raised:\n{block['code']}\n{traceback.format_exc()}",
                      flush=True)
                sys.exit(1)
        sys.stdout.flush()


if __name__ == "__main__":  # worker processes (Dask, multiprocessing) re-import this file
    main()
'''


def test_markers_are_read_and_a_not_run_block_gives_its_reason(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n```python\nx = 1\n```\n\n<!-- file: conf/p.yaml -->\n```yaml\na: 1\n```\n"
        "\n<!-- not-run: needs your own run id -->\n```bash\nnbops reproduce RUN\n```\n\n"
        "1. a list item:\n\n   ```sh\n   echo indented\n   ```\n\n```\nplain output\n```\n")
    assert [(b.line, b.action, b.arg, b.code) for b in extract(page)] == [
        (3, "python", "", "x = 1\n"),
        (8, "file", "conf/p.yaml", "a: 1\n"),
        (13, "not-run", "needs your own run id", "nbops reproduce RUN\n"),
        (19, "bash", "", "echo indented\n"),
        (23, "text", "", "plain output\n"),
    ]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.stem)
def test_every_skipped_block_says_why(page):
    unexplained = [f"docs/{b.page}:{b.line}" for b in extract(page)
                   if b.action == "not-run" and not b.arg.strip()]
    assert not unexplained, ("a `<!-- not-run -->` marker needs a reason, e.g. "
                             f"`<!-- not-run: needs your own run id -->`: {unexplained}")


@pytest.mark.parametrize("page", [p for p in _pages() if _runnable(p)], ids=lambda p: p.stem)
def test_the_page_runs_as_written(page, project, tmp_path):
    shutil.copytree(ROOT / "example_notebooks", project / "example_notebooks")
    blocks = [asdict(b) for b in extract(page) if b.action in ("python", "bash", "file")]
    script = tmp_path / "blocks.json"
    script.write_text(json.dumps(blocks))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, str(driver), str(script)], cwd=project, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=PAGE_TIMEOUT)
    assert done.returncode == 0, done.stdout[-6000:]
