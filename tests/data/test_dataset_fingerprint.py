"""Fingerprints of in-memory data: stability, sensitivity and the identity rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

from nbops.data import ALGORITHMS, Fingerprint, fingerprint
from nbops.exceptions import DatasetError, UsageError

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, pandas as pd, torch
    from nbops.data import fingerprint

    def build(change):
        rng = np.random.default_rng(7)
        df = pd.DataFrame({
            "x": rng.random(1000),
            "n": np.arange(1000),
            "s": [None if i % 7 == 0 else f"row-{i}-é" for i in range(1000)],
            "o": np.array([i if i % 3 else str(i) for i in range(1000)], dtype=object),
            "c": pd.Categorical(["a", "b", "c", "a"] * 250),
            "i": pd.array([None if i % 5 == 0 else i for i in range(1000)], dtype="Int64"),
            "t": pd.date_range("2024-01-01", periods=1000, freq="h", tz="UTC"),
        })
        df.loc[3, "x"] = np.nan
        df.index = df.index * 2
        if change:
            df.loc[998, "x"] += 1e-12
        arr = rng.random((50, 4))[:, ::2]
        if change:
            arr = arr.copy(); arr[0, 0] = 0.5
        t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
        if change:
            t[2, 3] = -1
        return df, arr, t

    out = {}
    for change in (False, True):
        for name, obj in zip(("df", "arr", "tensor"), build(change)):
            for algo in ("xxh3_128", "sha256"):
                out[f"{name}:{algo}:{change}"] = fingerprint(obj, algorithm=algo).digest
    json.dump(out, sys.stdout)
    """
)


def _run(seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_digests_are_stable_across_processes_and_change_with_one_value() -> None:
    first, second = _run("1"), _run("12345")
    assert first == second
    for name in ("df", "arr", "tensor"):
        for algo in ALGORITHMS:
            assert first[f"{name}:{algo}:False"] != first[f"{name}:{algo}:True"], (name, algo)


def test_import_does_not_import_heavy_libraries() -> None:
    code = "import sys, nbops.data; print(sorted(m for m in ('numpy','pandas','torch','pyarrow','xxhash') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _digest(obj: object) -> str:
    return fingerprint(obj).digest


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [1, 2, 3], "b": [0.5, np.nan, 2.5], "s": ["x", None, "zz"]},
    )


def test_same_content_same_digest_regardless_of_memory_layout() -> None:
    values = np.arange(40, dtype="float64").reshape(10, 4)
    c_order = pd.DataFrame(values, columns=list("abcd"))
    f_order = pd.DataFrame(np.asfortranarray(values), columns=list("abcd"))
    from_dict = pd.DataFrame({k: values[:, i].copy() for i, k in enumerate("abcd")})
    assert _digest(c_order) == _digest(f_order) == _digest(from_dict)


def test_column_names_order_and_dtypes_are_part_of_identity(frame: pd.DataFrame) -> None:
    base = _digest(frame)
    assert _digest(frame[["b", "a", "s"]]) != base
    assert _digest(frame.rename(columns={"a": "A"})) != base
    assert _digest(frame.astype({"a": "float64"})) != base
    assert _digest(frame.astype({"a": "int32"})) != base
    assert _digest(frame.copy()) == base


def test_index_is_part_of_identity_unless_default(frame: pd.DataFrame) -> None:
    base = _digest(frame)
    assert _digest(frame.set_axis([10, 11, 12])) != base
    assert _digest(frame.set_axis(["p", "q", "r"])) != base
    filtered = frame[frame["a"] > 1]  # index [1, 2]
    assert _digest(filtered) != _digest(filtered.reset_index(drop=True))
    assert _digest(frame.iloc[:2]) == _digest(frame.head(2).reset_index(drop=True))
    named = frame.copy()
    named.index.name = "id"
    assert _digest(named) != base
    ranged = frame.set_axis(pd.RangeIndex(10, 13))
    assert _digest(ranged) == _digest(frame.set_axis(pd.Index([10, 11, 12], dtype="int64")))
    labelled_default = frame.set_axis(pd.Index([0, 1, 2], dtype="int64"))
    assert _digest(labelled_default) == base, "labels 0..n-1 without a name are the default"
    multi = frame.set_index(["a", "s"])
    assert _digest(multi) != _digest(frame.set_index(["s", "a"]))


def test_strings_and_missing_values(frame: pd.DataFrame) -> None:
    base = _digest(frame)
    changed = frame.copy()
    changed.loc[2, "s"] = "zy"
    assert _digest(changed) != base
    nan_to_value = frame.copy()
    nan_to_value.loc[1, "b"] = 0.0
    assert _digest(nan_to_value) != base
    literal = frame.copy()
    literal.loc[1, "s"] = "nan"
    assert _digest(literal) != base
    empty = frame.copy()
    empty.loc[1, "s"] = ""
    assert _digest(empty) != base, "an empty string is not a missing value"
    # boundaries between strings are part of identity
    a = pd.DataFrame({"s": np.array(["ab", "c"], dtype=object)})
    b = pd.DataFrame({"s": np.array(["a", "bc"], dtype=object)})
    assert _digest(a) != _digest(b)


def test_object_and_arrow_string_columns_hash_their_values() -> None:
    values = ["a", None, "ccc", "dé"]
    obj = pd.Series(np.array(values, dtype=object), name="s")
    arrow = pd.Series(values, dtype="str", name="s")
    python = pd.Series(values, dtype=pd.StringDtype("python"), name="s")
    # dtype is part of identity, but each digest is stable and value-sensitive
    for ser in (obj, arrow, python):
        assert _digest(ser) == _digest(ser.copy())
        assert _digest(ser) != _digest(ser.replace("ccc", "ccd"))
    chunked = pd.Series(
        pd.arrays.ArrowExtensionArray(pa.chunked_array([["a", None], ["ccc", "dé"]])), name="s"
    )
    single = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values)), name="s")
    assert _digest(chunked) == _digest(single)
    sliced = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(["zz", *values])[1:]), name="s")
    assert _digest(sliced) == _digest(single)


def test_masked_values_do_not_leak_into_the_digest() -> None:
    mask = np.array([False, True, False])
    a = pd.Series(pd.arrays.IntegerArray(np.array([1, 99, 3]), mask))
    b = pd.Series(pd.arrays.IntegerArray(np.array([1, 0, 3]), mask))
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(pd.Series(pd.array([1, 99, 3], dtype="Int64")))


def test_categoricals_hash_categories_and_codes() -> None:
    a = pd.Series(pd.Categorical(["x", "y", "x"], categories=["x", "y"]))
    assert _digest(a) == _digest(a.copy())
    assert _digest(a) != _digest(pd.Series(pd.Categorical(["x", "y", "y"], categories=["x", "y"])))
    assert _digest(a) != _digest(pd.Series(pd.Categorical(["x", "y", "x"], categories=["y", "x"])))


def test_numpy_non_contiguous_and_byte_order() -> None:
    base = np.arange(60, dtype="int32").reshape(6, 10)
    view = base[::2, 1::3]
    assert not view.flags.c_contiguous
    assert _digest(view) == _digest(np.ascontiguousarray(view))
    assert _digest(base.astype(">i4")) == _digest(base)
    assert _digest(base.T) == _digest(np.ascontiguousarray(base.T))
    assert _digest(base.T) != _digest(base)  # shape is part of identity
    assert _digest(base.reshape(10, 6)) != _digest(base)
    assert _digest(base.astype("int64")) != _digest(base)
    fp = fingerprint(view)
    assert (fp.kind, fp.rows, fp.schema) == ("ndarray", 3, {"shape": [3, 3], "dtype": "int32"})
    assert fp.size_bytes == view.nbytes


def test_numpy_datetimes_objects_and_structured() -> None:
    dates = np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]")
    assert _digest(dates) == _digest(dates.copy())
    objects = np.array([1, "a", None, 2.5, (1, 2)], dtype=object)
    assert _digest(objects) == _digest(objects.copy())
    assert _digest(objects) != _digest(np.array([1, "a", None, 2.5, (1, 3)], dtype=object))
    rec = np.array([(1, 2.0)], dtype=[("a", ">i4"), ("b", "<f8")])
    assert _digest(rec) == _digest(rec.astype([("a", "<i4"), ("b", "<f8")]))


def test_torch_tensor() -> None:
    t = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    fp = fingerprint(t)
    assert (fp.kind, fp.rows, fp.schema) == ("tensor", 4, {"shape": [4, 6], "dtype": "float32"})
    assert fp.digest == _digest(t.clone().requires_grad_(True))
    assert _digest(t.T) == _digest(t.T.contiguous())
    assert _digest(t.double()) != fp.digest
    changed = t.clone()
    changed[0, 0] = 0.5
    assert _digest(changed) != fp.digest
    assert _digest(torch.ones(3, dtype=torch.bfloat16)) != _digest(
        torch.ones(3, dtype=torch.float16)
    )
    assert _digest(t) != _digest(t.numpy()), "the container type is part of identity"


def test_unsupported_types_name_the_type_and_the_supported_ones() -> None:
    with pytest.raises(DatasetError) as err:
        fingerprint([1, 2, 3])
    message = str(err.value)
    assert (
        "builtins.list" in message and "pandas.DataFrame" in message and "numpy.ndarray" in message
    )

    class Thing:
        pass

    with pytest.raises(DatasetError, match=r"column 'bad'.*Thing"):
        fingerprint(pd.DataFrame({"bad": [Thing()]}))
    with pytest.raises(DatasetError, match="masked array"):
        fingerprint(np.ma.masked_array([1, 2], mask=[0, 1]))
    with pytest.raises(UsageError, match="xxh3_128"):
        fingerprint(np.arange(3), algorithm="md5")


def test_tags_and_dict() -> None:
    fp = fingerprint(pd.DataFrame({"a": [1, 2]}), algorithm="sha256")
    assert len(fp.digest) == 64 and str(fp) == f"sha256:{fp.digest}"
    tags = fp.to_tags("train")
    assert tags["nbops.dataset.train.digest"] == fp.digest
    assert tags["nbops.dataset.train.rows"] == "2"
    assert json.loads(tags["nbops.dataset.train.schema"]) == {"a": "int64"}
    assert Fingerprint(**fp.to_dict()) == fp
    with pytest.raises(UsageError, match="Dataset name"):
        fp.to_tags("bad:name")
    wide = fingerprint(pd.DataFrame({f"column_{i}": [i] for i in range(1000)}))
    assert "truncated" in wide.to_tags("wide")["nbops.dataset.wide.schema"]


@pytest.mark.parametrize(
    "values",
    [
        ["a", None, np.nan, pd.NA],
        ["a", pd.NaT],
        ["a", np.float32("nan")],
        [None, None],
        ["a", 1],
        [np.str_("x"), "y"],
        ["é", None, "\ud800"],
    ],
)
def test_string_detection_does_not_depend_on_pandas_being_imported(
    values: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    with_pandas = _digest(array)
    monkeypatch.delitem(sys.modules, "pandas")
    assert _digest(array) == with_pandas


def test_exported_members() -> None:
    import nbops.data

    assert sorted(nbops.data.__all__) == [
        "ALGORITHMS",
        "Fingerprint",
        "HOOKED_FUNCTIONS",
        "IOCapture",
        "IOEvent",
        "capture_io",
        "fingerprint",
    ]
