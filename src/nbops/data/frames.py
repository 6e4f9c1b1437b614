"""Content hashing of in-memory data: pandas DataFrames and Series, numpy arrays, torch tensors.

Everything is hashed from its value buffers, never from a sample and never through ``pickle``
or Python's ``hash()``:

* numeric, bool, datetime and timedelta data: the raw little-endian element bytes, fed to the
  hash in place when the buffer is C-contiguous (the fast path: no copy), else copied in chunks
  of :data:`CHUNK_BYTES` into canonical order;
* strings (object columns, pandas' ``str`` dtype, pyarrow strings): a missing-value bitmap, the
  length of each value (UTF-8 bytes for arrow, code points for Python strings) and the
  concatenated UTF-8 bytes;
* nullable (masked) extension arrays: the mask and the values with masked slots zeroed;
* categoricals: the categories (hashed like a column), the ``ordered`` flag and the codes;
* other Python objects in object columns: a typed, length-prefixed canonical encoding (see
  :func:`_encode_object`); a type without a stable encoding raises :class:`DatasetError`.

numpy, pandas, pyarrow and torch are only used when the object handed in already comes from
them, so this module imports none of them at import time.
"""

from __future__ import annotations

import math
import struct
import sys
from typing import Any, Final

from nbops.data._hashing import FORMAT_VERSION, HashStream
from nbops.exceptions import DatasetError

__all__ = ["CHUNK_BYTES", "hash_frame", "hash_ndarray", "hash_series", "hash_tensor"]

#: Size of the scratch copies made for non-contiguous or byte-swapped arrays.
CHUNK_BYTES: Final = 16 * 1024 * 1024

_LITTLE: Final = sys.byteorder == "little"


# --------------------------------------------------------------------------- public entry points


def hash_frame(df: Any, algorithm: str) -> tuple[str, dict[str, str], int, int]:
    """Hash a pandas DataFrame; return ``(digest, schema, rows, bytes hashed)``."""
    s = HashStream(algorithm)
    s.field(FORMAT_VERSION)
    s.field("dataframe")
    nrows, ncols = df.shape
    s.field(nrows)
    s.field(ncols)
    schema: dict[str, str] = {}
    for label, column in df.items():
        _feed_label(s, label)
        schema[str(label)] = str(column.dtype)
        _feed_pandas_values(s, column, f"column {label!r}")
    _feed_index(s, df.index)
    return s.hexdigest(), schema, nrows, s.nbytes


def hash_series(ser: Any, algorithm: str) -> tuple[str, dict[str, str], int, int]:
    """Hash a pandas Series (its name, dtype, values and non-default index)."""
    s = HashStream(algorithm)
    s.field(FORMAT_VERSION)
    s.field("series")
    s.field(len(ser))
    _feed_label(s, ser.name)
    _feed_pandas_values(s, ser, "the series" if ser.name is None else f"series {ser.name!r}")
    _feed_index(s, ser.index)
    return s.hexdigest(), {str(ser.name): str(ser.dtype)}, len(ser), s.nbytes


def hash_ndarray(arr: Any, algorithm: str) -> tuple[str, dict[str, Any], int | None, int]:
    """Hash a numpy array (dtype, shape, values in C order)."""
    import numpy as np

    if isinstance(arr, np.ma.MaskedArray):
        raise DatasetError(
            "nbops cannot fingerprint a numpy masked array, because its masked slots hold "
            "arbitrary values. Hash `arr.filled(fill_value)` together with "
            "`numpy.ma.getmaskarray(arr)`, or use a pandas nullable column."
        )
    s = HashStream(algorithm)
    s.field(FORMAT_VERSION)
    s.field("ndarray")
    _feed_ndarray(s, arr, where="the array")
    schema = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    rows = int(arr.shape[0]) if arr.ndim else None
    return s.hexdigest(), schema, rows, s.nbytes


def hash_tensor(tensor: Any, algorithm: str) -> tuple[str, dict[str, Any], int | None, int]:
    """Hash a torch tensor: dtype, shape and its bytes on the CPU (copied there if needed)."""
    import torch

    t = tensor.detach()
    if t.layout != torch.strided:
        raise DatasetError(
            f"nbops cannot fingerprint a torch tensor with layout {t.layout}; convert it with "
            "`tensor.to_dense()` first."
        )
    if t.is_quantized:
        raise DatasetError(
            "nbops cannot fingerprint a quantized torch tensor; hash `tensor.int_repr()` or "
            "`tensor.dequantize()` instead."
        )
    if t.device.type == "meta":
        raise DatasetError("A torch tensor on the 'meta' device has no data to fingerprint.")
    if t.device.type != "cpu":
        t = t.cpu()  # one device-to-host copy; the hash is of the values, not the device
    t = t.resolve_conj().resolve_neg().contiguous()
    dtype = str(t.dtype).removeprefix("torch.")
    s = HashStream(algorithm)
    s.field(FORMAT_VERSION)
    s.field("tensor")
    s.field(dtype)
    s.field(t.dim())
    for n in t.shape:
        s.field(int(n))
    raw = t.reshape(-1).view(torch.uint8).numpy()
    if not _LITTLE and t.element_size() > 1:  # pragma: no cover - big-endian hosts only
        import numpy as np

        raw = raw.view(f">u{t.element_size()}").astype(f"<u{t.element_size()}").view(np.uint8)
    s.buffer(raw)
    rows = int(t.shape[0]) if t.dim() else None
    return s.hexdigest(), {"shape": list(t.shape), "dtype": dtype}, rows, s.nbytes


# --------------------------------------------------------------------------- numpy


def _canonical_dtype(dt: Any) -> str:
    """A dtype string independent of the machine's byte order (``'<f8'``, ``'|b1'``, ...)."""
    le = dt.newbyteorder("<")
    return str(le.descr) if le.fields is not None else le.str


def _feed_ndarray(s: HashStream, arr: Any, where: str) -> None:
    """Feed dtype, shape and the values of a numpy array in canonical (C, little-endian) order."""
    dt = arr.dtype
    s.field(_canonical_dtype(dt))
    s.field(arr.ndim)
    for n in arr.shape:
        s.field(int(n))
    if dt.hasobject:
        if dt.fields is not None:
            s.field("objects")
            _feed_object_list(s, arr.ravel(order="C").tolist(), where)
        else:
            _feed_objects(s, arr.ravel(order="C"), where)
        return
    _feed_numeric(s, arr)


def _feed_numeric(s: HashStream, arr: Any) -> None:
    import numpy as np

    dt = arr.dtype
    target = dt.newbyteorder("<")
    swap = dt != target  # big-endian data (or a big-endian host): copy to little-endian in chunks
    if arr.flags.c_contiguous and not swap:
        s.buffer(arr.reshape(-1).view(np.uint8))  # zero copy: the fast path
        return
    s.begin_buffer(arr.nbytes)
    if arr.ndim == 0:
        s.buffer_part(np.ascontiguousarray(arr, dtype=target).reshape(-1).view(np.uint8))
        return
    row_bytes = max(1, arr.nbytes // max(1, arr.shape[0]))
    step = max(1, CHUNK_BYTES // row_bytes)
    for start in range(0, arr.shape[0], step):
        part = np.ascontiguousarray(arr[start : start + step], dtype=target)
        s.buffer_part(part.reshape(-1).view(np.uint8))


# --------------------------------------------------------------------------- pandas


def _feed_label(s: HashStream, label: Any) -> None:
    out = bytearray()
    _encode_object(label, out, where="a column or index name")
    s.field(bytes(out))


def _feed_index(s: HashStream, index: Any) -> None:
    """The default index adds nothing; any other index is content, hashed by its labels.

    The default index is unnamed with the labels ``0..n-1``: a ``RangeIndex(0, n)`` or an
    integer index holding exactly those labels (what ``concat`` or ``reindex`` may produce). A
    ``RangeIndex`` with other labels hashes like the same labels in an int64 index.
    """
    import numpy as np
    import pandas as pd

    if _is_default_index(index, np, pd):
        s.field("index:default")
        return
    if isinstance(index, pd.MultiIndex):
        s.field("index:multi")
        s.field(index.nlevels)
        for level in range(index.nlevels):
            values = index.get_level_values(level)
            _feed_label(s, values.name)
            _feed_pandas_values(s, values, f"index level {level}")
        return
    s.field("index:values")
    _feed_label(s, index.name)
    _feed_pandas_values(s, index, "the index")


def _is_default_index(index: Any, np: Any, pd: Any) -> bool:
    if index.name is not None or isinstance(index, pd.MultiIndex):
        return False
    if isinstance(index, pd.RangeIndex):
        return index.start == 0 and index.step == 1
    dtype = index.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "iu":
        return False
    values = index.to_numpy()
    return bool(np.array_equal(values, np.arange(len(values))))


def _feed_pandas_values(s: HashStream, obj: Any, where: str) -> None:
    """Feed dtype + values of a Series or Index, dispatching on its dtype."""
    import numpy as np
    import pandas as pd

    dtype = obj.dtype
    s.field(_dtype_key(dtype))
    if isinstance(dtype, np.dtype):
        values = obj.to_numpy()  # a view for numpy-backed data (no copy)
        if dtype.kind == "O":
            _feed_objects(s, values, where)
        else:
            _feed_numeric(s, values)
        return
    arr = obj.array
    if isinstance(dtype, pd.CategoricalDtype):
        s.field("ordered" if dtype.ordered else "unordered")
        _feed_pandas_values(s, dtype.categories, f"the categories of {where}")
        _feed_numeric(s, np.asarray(arr.codes))
        return
    if isinstance(dtype, pd.ArrowDtype) or (
        isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
    ):
        _feed_arrow(s, arr.__arrow_array__(), where)
        return
    masked = _masked_parts(arr)
    if masked is not None:
        data, mask = masked
        _feed_mask(s, mask)
        if mask.any():
            data = data.copy()
            data[mask] = 0
        _feed_numeric(s, data)
        return
    asi8 = getattr(arr, "asi8", None)  # tz-aware datetimes, periods: int64 ticks, NaT = int64 min
    if isinstance(asi8, np.ndarray):
        _feed_numeric(s, asi8)
        return
    # python-backed strings, intervals, sparse, third-party extension arrays: value by value
    _feed_objects(s, np.asarray(arr, dtype=object), where)


def _dtype_key(dtype: Any) -> str:
    import numpy as np

    if isinstance(dtype, np.dtype):
        return _canonical_dtype(dtype)
    return f"{type(dtype).__name__}:{dtype}"


def _masked_parts(arr: Any) -> tuple[Any, Any] | None:
    """``(values, mask)`` of a pandas nullable (masked) array such as Int64/Float64/boolean."""
    try:
        from pandas.core.arrays.masked import BaseMaskedArray
    except ImportError:  # pragma: no cover - pandas moved it; fall back to the object path
        return None
    if not isinstance(arr, BaseMaskedArray):
        return None
    return arr._data, arr._mask


def _feed_mask(s: HashStream, mask: Any) -> None:
    import numpy as np

    if mask is None or not mask.any():
        s.field("mask:none")
        return
    s.field("mask:bits")
    s.buffer(np.packbits(np.asarray(mask, dtype=bool), bitorder="little"))


# --------------------------------------------------------------------------- strings / arrow


def _feed_strings(s: HashStream, mask: Any, lengths: Any, data: Any, unit: str) -> None:
    """Canonical string column: missing bitmap, int64 little-endian lengths, UTF-8 bytes.

    ``unit`` says what the lengths count: ``"bytes"`` (arrow offsets) or ``"chars"``.
    """
    import numpy as np

    s.field(f"strings:{unit}")
    _feed_mask(s, mask)
    s.buffer(np.ascontiguousarray(lengths, dtype="<i8").view(np.uint8))
    s.buffer(data)


def _feed_arrow(s: HashStream, chunked: Any, where: str) -> None:
    import pyarrow as pa

    arr = chunked.combine_chunks() if isinstance(chunked, pa.ChunkedArray) else chunked
    typ = arr.type
    s.field(f"arrow:{typ}")
    mask = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or _is_view(pa, typ, "string"):
        _feed_arrow_binary(s, arr.cast(pa.large_string()), mask, "")
    elif pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or _is_view(pa, typ, "binary"):
        _feed_arrow_binary(s, arr.cast(pa.large_binary()), mask, b"")
    elif pa.types.is_boolean(typ):
        _feed_mask(s, mask)
        _feed_numeric(s, arr.fill_null(False).to_numpy(zero_copy_only=False))
    elif pa.types.is_integer(typ) or pa.types.is_floating(typ):
        _feed_mask(s, mask)
        _feed_numeric(s, arr.fill_null(0).to_numpy(zero_copy_only=False))
    elif pa.types.is_temporal(typ) and getattr(typ, "bit_width", 0) in (32, 64):
        _feed_mask(s, mask)
        ints = arr.view(pa.int64() if typ.bit_width == 64 else pa.int32())
        _feed_numeric(s, ints.fill_null(0).to_numpy(zero_copy_only=False))
    else:  # nested, decimal, dictionary, ...: value by value, slow but exact
        s.field("objects")
        _feed_object_list(s, arr.to_pylist(), where)


def _feed_arrow_binary(s: HashStream, arr: Any, mask: Any, empty: Any) -> None:
    import numpy as np

    if mask is not None:
        arr = arr.fill_null(empty)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype="<i8", count=len(arr) + 1, offset=arr.offset * 8)
    body: Any = memoryview(buffers[2])[offsets[0] : offsets[-1]] if buffers[2] is not None else b""
    _feed_strings(s, mask, np.diff(offsets), body, unit="bytes")


def _is_view(pa: Any, typ: Any, what: str) -> bool:
    check = getattr(pa.types, f"is_{what}_view", None)
    return bool(check and check(typ))


# --------------------------------------------------------------------------- Python objects


def _feed_objects(s: HashStream, values: Any, where: str) -> None:
    """Feed an object ndarray: a column of strings fast, anything else value by value."""
    flat = values.ravel()
    strings = _as_strings(flat)
    if strings is not None:
        mask, lengths, data = strings
        _feed_strings(s, mask, lengths, data, unit="chars")
        return
    s.field("objects")
    _feed_object_list(s, flat, where)


def _is_missing(v: Any) -> bool:
    """None, a float NaN or ``pandas.NA``: the values a string column may lack."""
    return v is None or (isinstance(v, float) and v != v) or type(v).__name__ == "NAType"


def _string_mask(values: Any) -> tuple[bool, Any]:
    """``(is_string_column, missing mask or None)``: every value a str or missing, one a str.

    Uses pandas' C type inference when pandas is loaded and a Python loop otherwise; both
    accept exactly the same columns, so the digest never depends on what is imported.
    """
    import numpy as np

    pd = sys.modules.get("pandas")
    if pd is not None:
        if pd.api.types.infer_dtype(values, skipna=True) != "string":
            return False, None
        mask = pd.isna(values)
        if not mask.any():
            return True, None
        if not all(_is_missing(v) for v in values[mask]):  # e.g. a float32 NaN or Decimal NaN
            return False, None
        return True, mask
    missing = []
    seen_str = False
    for i, v in enumerate(values):
        if isinstance(v, str):
            seen_str = True
        elif _is_missing(v):
            missing.append(i)
        else:
            return False, None
    if not seen_str:
        return False, None
    if not missing:
        return True, None
    mask = np.zeros(len(values), dtype=bool)
    mask[missing] = True
    return True, mask


def _as_strings(values: Any) -> tuple[Any, Any, bytes] | None:
    """``(missing mask, lengths in characters, UTF-8 bytes)`` of a string column, else ``None``.

    Lengths count code points: together with the UTF-8 bytes of all values joined they frame
    each value unambiguously, without encoding the values one by one.
    """
    import numpy as np

    if values.ndim != 1:
        return None
    is_strings, mask = _string_mask(values)
    if not is_strings:
        return None
    items = (np.where(mask, "", values) if mask is not None else values).tolist()
    lengths = np.fromiter(map(len, items), dtype="<i8", count=len(items))
    return mask, lengths, "".join(items).encode("utf-8", "surrogatepass")


def _feed_object_list(s: HashStream, values: Any, where: str) -> None:
    """Feed values through :func:`_encode_object`; each encoding delimits itself."""
    out = bytearray()
    for v in values:
        _encode_object(v, out, where)
        if len(out) >= 1 << 20:
            s.raw(out)
            out = bytearray()
    s.raw(out)


_PACK_DOUBLE = struct.Struct("<d").pack
_MISSING_TAGS: Final = {"NAType": b"A", "NaTType": b"M"}
_TEXT_TYPES: Final = {
    # types whose str()/isoformat() is a complete, stable rendering of the value
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "decimal.Decimal",
    "uuid.UUID",
    "fractions.Fraction",
    "pandas.Timestamp",
    "pandas.Timedelta",
    "pandas.Period",
    "pandas.Interval",
    "pandas._libs.tslibs.timestamps.Timestamp",
    "pandas._libs.tslibs.timedeltas.Timedelta",
    "pandas._libs.tslibs.period.Period",
    "pandas._libs.interval.Interval",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
}


def _put(out: bytearray, tag: bytes, payload: bytes) -> None:
    out += tag
    out += len(payload).to_bytes(8, "little")
    out += payload


def _encode_object(v: Any, out: bytearray, where: str) -> None:
    """Append a typed, length-prefixed, deterministic encoding of one Python value to ``out``."""
    t = type(v)
    if t is str:
        _put(out, b"s", v.encode("utf-8", "surrogatepass"))
    elif v is None:
        out += b"N"
    elif t is bool:
        out += b"T" if v else b"F"
    elif t is int:
        _put(out, b"i", str(v).encode())
    elif t is float:
        out += b"n" if math.isnan(v) else b"f" + _PACK_DOUBLE(v)
    elif t is bytes or t is bytearray:
        _put(out, b"b", bytes(v))
    elif t is tuple or t is list:
        out += b"(" if t is tuple else b"["
        out += len(v).to_bytes(8, "little")
        for item in v:
            _encode_object(item, out, where)
    elif t is dict:
        out += b"{"
        out += len(v).to_bytes(8, "little")
        for key, item in v.items():
            _encode_object(key, out, where)
            _encode_object(item, out, where)
    elif t is set or t is frozenset:
        parts = []
        for item in v:
            part = bytearray()
            _encode_object(item, part, where)
            parts.append(bytes(part))
        out += b"<"
        out += len(parts).to_bytes(8, "little")
        for part in sorted(parts):
            out += part
    elif t.__name__ in _MISSING_TAGS:
        out += _MISSING_TAGS[t.__name__]
    elif t.__module__ == "numpy" and hasattr(v, "item") and hasattr(v, "dtype"):
        if v.dtype.kind in "mM":  # datetime64/timedelta64 scalars: unit + int ticks
            _put(out, b"t", f"{v.dtype.str[1:]}:{v.astype('int64')}".encode())
        else:
            _encode_object(v.item(), out, where)
    else:
        name = f"{t.__module__}.{t.__qualname__}"
        if name not in _TEXT_TYPES:
            raise DatasetError(
                f"nbops cannot fingerprint {where}: it holds a {name} object, which has no "
                "stable byte representation. Convert the column to a supported type first "
                "(e.g. `df[col].astype(str)`), or drop it before fingerprinting. Supported "
                "object values: str, bytes, int, float, bool, None, lists/tuples/dicts/sets of "
                "those, dates and times, Decimal, UUID and pandas missing values."
            )
        _put(out, b"r", f"{t.__name__}:{v}".encode("utf-8", "surrogatepass"))
