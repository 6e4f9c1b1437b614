"""Fingerprints of files and directories."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
import xxhash

from nbops.data import fingerprint
from nbops.data.files import hash_directory, hash_file
from nbops.exceptions import DatasetError


def _tree(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.csv").write_text("x,y\n1,2\n")
    (root / "sub" / "b.txt").write_text("hello")
    (root / "sub" / "deeper" / "c.bin").write_bytes(bytes(range(256)) * 10)
    return root


def test_file_digest_is_the_plain_hash_of_its_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    sha = fingerprint(path, algorithm="sha256")
    assert sha.digest == hashlib.sha256(data).hexdigest()
    assert (sha.kind, sha.size_bytes, sha.rows, sha.schema) == ("file", len(data), None, {})
    assert fingerprint(str(path)).digest == xxhash.xxh3_128(data).hexdigest()
    assert hash_file(path, algorithm="xxh3_128", chunk_size=1000)[0] == fingerprint(path).digest
    path.write_bytes(data[:-1] + b"\x00" if data[-1] else data[:-1] + b"\x01")
    assert fingerprint(path, algorithm="sha256").digest != sha.digest


def test_directory_identity(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    fp = fingerprint(root)
    assert (fp.kind, fp.schema) == ("directory", {"files": 3})
    assert fp.size_bytes == 8 + 5 + 2560

    copy = _tree(tmp_path / "elsewhere")  # same relative paths and content, other name
    (copy / "empty-dir").mkdir()  # empty folders are not part of identity
    assert fingerprint(copy).digest == fp.digest

    (root / "new.txt").write_text("")
    added = fingerprint(root).digest
    assert added != fp.digest
    (root / "new.txt").unlink()
    assert fingerprint(root).digest == fp.digest

    (root / "sub" / "b.txt").rename(root / "sub" / "b2.txt")
    assert fingerprint(root).digest != fp.digest
    (root / "sub" / "b2.txt").rename(root / "sub" / "b.txt")

    (root / "sub" / "b.txt").write_text("hellO")
    assert fingerprint(root).digest != fp.digest


def test_directory_thread_pool_matches_sequential(tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"d{i % 7}").mkdir(exist_ok=True)
        (tmp_path / f"d{i % 7}" / f"f{i}.txt").write_text(str(i))
    one = hash_directory(tmp_path, algorithm="xxh3_128", workers=1)
    many = hash_directory(tmp_path, algorithm="xxh3_128", workers=6)
    assert one == many
    assert one[1] == 300


def test_progress_bar_can_be_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(tmp_path)
    assert fingerprint(tmp_path, progress=True).digest == fingerprint(tmp_path).digest


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nope.csv"):
        fingerprint(tmp_path / "nope.csv")


def test_file_growing_while_hashed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(b"0123456789" * 10)

    def writer() -> None:
        with open(path, "ab") as f:
            f.write(b"appended by another program\n")

    calls = []

    def on_chunk(read: int) -> None:  # a writer thread runs to completion mid-read
        calls.append(read)
        if len(calls) == 1:
            thread = threading.Thread(target=writer)
            thread.start()
            thread.join()

    with pytest.raises(DatasetError, match="changed while nbops was fingerprinting.*retry"):
        hash_file(path, algorithm="xxh3_128", chunk_size=8, on_chunk=on_chunk)


def test_file_rewritten_in_place_same_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"a" * 64)
    before = os.stat(path).st_mtime_ns

    def on_chunk(read: int) -> None:
        if read == 8:
            with open(path, "r+b") as f:
                f.write(b"b")
            os.utime(path, ns=(before + 1_000_000, before + 1_000_000))

    with pytest.raises(DatasetError, match="changed"):
        hash_file(path, algorithm="sha256", chunk_size=8, on_chunk=on_chunk)


def test_file_vanishing_while_hashed_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tmp.parquet"
    path.write_bytes(b"x" * 64)
    with pytest.raises(DatasetError, match=r"tmp\.parquet.*deleted or moved"):
        hash_file(
            path,
            algorithm="xxh3_128",
            chunk_size=8,
            on_chunk=lambda n: path.unlink(missing_ok=True),
        )


def test_file_vanishing_from_a_directory_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbops.data import files

    _tree(tmp_path)
    listed = files.list_files(tmp_path)
    (tmp_path / "sub" / "b.txt").unlink()
    monkeypatch.setattr(files, "list_files", lambda root: listed)
    with pytest.raises(DatasetError, match=r"b\.txt.*does not exist"):
        fingerprint(tmp_path)
