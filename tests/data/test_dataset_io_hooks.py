"""capture_io: lineage edges from pandas / numpy / torch I/O, and the hooks' safety rules."""

from __future__ import annotations

import io
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nbops.data import IOEvent, capture_io, fingerprint
from nbops.data.io_hooks import _HOOKS, _locate, _targets


def _originals() -> dict[str, object]:
    return {
        "read_csv": pd.read_csv,
        "to_parquet": vars(pd.DataFrame)["to_parquet"],
        "np.save": np.save,
        "torch.load": torch.load,
    }


def _assert_unhooked(before: dict[str, object]) -> None:
    assert _originals() == before
    assert pd.read_csv is before["read_csv"]
    assert "to_csv" not in vars(pd.DataFrame), "inherited methods are removed, not shadowed"
    assert not _HOOKS.installed and not _HOOKS.subscribers


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", None]}).to_csv(path, index=False)
    return path


def test_records_csv_read_and_parquet_write_with_fingerprints(tmp_path: Path, csv: Path) -> None:
    before = _originals()
    events: list[IOEvent] = []
    fps = []
    out = tmp_path / "out.parquet"
    with capture_io(lambda e: (events.append(e), fps.append(e.fingerprint()))) as cap:
        assert cap.enabled and "pandas.read_csv" in cap.hooked
        assert pd.read_csv is not before["read_csv"]
        df = pd.read_csv(csv)
        df.to_parquet(out)
    _assert_unhooked(before)
    assert [(e.direction, e.library, e.function, e.path) for e in events] == [
        ("input", "pandas", "read_csv", str(csv)),
        ("output", "pandas", "DataFrame.to_parquet", str(out)),
    ]
    assert fps[0] == fingerprint(csv)
    assert fps[1] == fingerprint(out) and fps[1].size_bytes == out.stat().st_size


def test_numpy_and_torch_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    events: list[IOEvent] = []
    with capture_io(events.append):
        np.save("arr", np.arange(3))  # numpy appends .npy
        np.load("arr.npy")
        torch.save(torch.ones(2), tmp_path / "t.pt")
        torch.load(tmp_path / "t.pt")
        pd.DataFrame({"a": [1]}).to_csv(io.StringIO())  # a buffer: no edge
        pd.Series([1]).to_json(Path("s.json"))
    assert [(e.direction, e.function, Path(e.path).name) for e in events] == [
        ("output", "save", "arr.npy"),
        ("input", "load", "arr.npy"),
        ("output", "save", "t.pt"),
        ("input", "load", "t.pt"),
        ("output", "Series.to_json", "s.json"),
    ]
    assert all(Path(e.path).is_absolute() and e.fingerprint() is not None for e in events)


def test_urls_are_unhashed_edges() -> None:
    read_csv = next(t for t in _targets() if t.name == "read_csv")
    assert _locate(read_csv, ("s3://bucket/key.csv",), {}) == ("s3://bucket/key.csv", False)
    assert _locate(read_csv, (), {"filepath_or_buffer": io.BytesIO()}) is None
    event = IOEvent("input", "s3://bucket/key.csv", "pandas", "read_csv", None)
    assert event.fingerprint() is None


def test_block_exception_propagates_unchanged_and_unhooks(csv: Path) -> None:
    before = _originals()
    boom = KeyError("mine")
    with pytest.raises(KeyError) as err, capture_io(lambda e: None):
        pd.read_csv(csv)
        raise boom
    assert err.value is boom
    _assert_unhooked(before)


def test_user_call_error_propagates_and_records_nothing(tmp_path: Path) -> None:
    events: list[IOEvent] = []
    with capture_io(events.append), pytest.raises(FileNotFoundError):
        pd.read_csv(tmp_path / "missing.csv")
    assert events == []


def test_failing_callback_warns_once_and_never_breaks_the_call(csv: Path) -> None:
    def bad(event: IOEvent) -> None:
        raise RuntimeError("backend down")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with capture_io(bad):
            frames = [pd.read_csv(csv) for _ in range(3)]
    assert all(len(f) == 3 for f in frames)
    messages = [str(w.message) for w in caught if "nbops" in str(w.message)]
    assert len(messages) == 1 and "backend down" in messages[0]


def test_off_switch(csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _originals()
    events: list[IOEvent] = []
    monkeypatch.setenv("NBOPS_NO_IO_HOOKS", "1")
    with capture_io(events.append) as cap:
        assert not cap.enabled and pd.read_csv is before["read_csv"]
        pd.read_csv(csv)
    monkeypatch.delenv("NBOPS_NO_IO_HOOKS")
    with capture_io(events.append, enabled=False):
        assert pd.read_csv is before["read_csv"]
        pd.read_csv(csv)
    assert events == []


def test_nested_blocks_do_not_double_wrap_or_unwrap_early(csv: Path) -> None:
    before = _originals()
    outer: list[IOEvent] = []
    inner: list[IOEvent] = []
    with capture_io(outer.append):
        wrapped = pd.read_csv
        with capture_io(inner.append):
            assert pd.read_csv is wrapped and wrapped.__wrapped__ is before["read_csv"]
            pd.read_csv(csv)
        assert pd.read_csv is wrapped
        pd.read_csv(csv)
    _assert_unhooked(before)
    assert (len(outer), len(inner)) == (2, 1)


def test_two_threads_with_overlapping_blocks(tmp_path: Path) -> None:
    before = _originals()
    barrier = threading.Barrier(2)
    seen: dict[int, list[IOEvent]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with capture_io(seen[i].append):
                barrier.wait()  # both blocks active
                for k in range(5):
                    pd.DataFrame({"k": [k]}).to_csv(tmp_path / f"t{i}-{k}.csv")
                barrier.wait()  # neither block exits before both finished writing
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    _assert_unhooked(before)
    for i in (0, 1):
        mine = {Path(e.path).name for e in seen[i] if Path(e.path).name.startswith(f"t{i}-")}
        assert mine == {f"t{i}-{k}.csv" for k in range(5)}
        assert len(seen[i]) == 10, "hooks are process-wide: each block sees both threads"


def test_events_from_a_worker_thread_are_recorded(tmp_path: Path) -> None:
    events: list[IOEvent] = []
    with capture_io(events.append):
        t = threading.Thread(target=lambda: np.save(tmp_path / "w.npy", np.zeros(2)))
        t.start()
        t.join()
    assert [Path(e.path).name for e in events] == ["w.npy"]
