"""Dataset fingerprints: a full-content digest plus the shape of the data, for lineage.

:func:`fingerprint` hashes *all* of a dataset (never a sample) and returns a
:class:`Fingerprint`. What is part of a dataset's identity (see docs/datasets.md):

* DataFrame: column names and their order, each column's dtype, every value (row order
  matters), and the index unless it is the default (no name, labels ``0..n-1``).
  ``df.attrs``, flags, memory layout and block structure are not part of it.
* Series: its name, dtype, values and index (same rule).
* numpy array / torch tensor: dtype, shape and the values in C order. A tensor is hashed from its
  CPU bytes (a tensor on a GPU is copied to the CPU first; gradients are ignored).
* file: its bytes only (not its name, path or timestamps): the digest equals the plain hash.
* directory: the relative POSIX path and content of every regular file.

Digests are the same across processes, machines and byte orders; nothing uses Python's
``hash()`` or pickling. The type of container is part of a digest (a DataFrame and the same
values as a numpy array have different digests).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from nbops.data._hashing import ALGORITHMS, DEFAULT_ALGORITHM, check_algorithm
from nbops.exceptions import DatasetError, UsageError

__all__ = ["ALGORITHMS", "Fingerprint", "Kind", "fingerprint"]

Kind = Literal["dataframe", "series", "ndarray", "tensor", "file", "directory"]

#: MLflow tag values are limited in length; a longer schema is summarized in the tags.
_MAX_TAG_VALUE: Final = 5000
_TAG_NAME = re.compile(r"^[A-Za-z0-9_\-. /]+$")

SUPPORTED: Final = (
    "pandas.DataFrame, pandas.Series, numpy.ndarray, torch.Tensor, "
    "or a file or directory path (str or pathlib.Path)"
)


@dataclass(frozen=True)
class Fingerprint:
    """The identity of one dataset's content.

    Attributes:
        digest: hex digest of the full content.
        algorithm: ``"xxh3_128"`` or ``"sha256"``.
        kind: what was hashed: dataframe, series, ndarray, tensor, file or directory.
        schema: columns -> dtype strings (frames); ``{"shape": [...], "dtype": ...}`` (arrays,
            tensors); ``{"files": n}`` (directories); ``{}`` (files).
        rows: number of rows (first dimension), or ``None`` for files, directories and scalars.
        size_bytes: bytes of content that went into the digest (a file's size; the value
            buffers of a frame or array).

    Example::

        >>> import numpy as np
        >>> fp = fingerprint(np.arange(3))
        >>> fp.kind, fp.rows
        ('ndarray', 3)
    """

    digest: str
    algorithm: str
    kind: Kind
    schema: dict[str, Any] = field(default_factory=dict)
    rows: int | None = None
    size_bytes: int = 0

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.digest}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    def to_tags(self, name: str) -> dict[str, str]:
        """MLflow tags ``nbops.dataset.<name>.<field>`` describing this fingerprint.

        Example::

            >>> fp = Fingerprint("ab12", "xxh3_128", "file", size_bytes=10)
            >>> fp.to_tags("train")["nbops.dataset.train.digest"]
            'ab12'
        """
        if not isinstance(name, str) or not _TAG_NAME.match(name):
            raise UsageError(
                f"Dataset name {name!r} cannot be used in an MLflow tag; use letters, digits, "
                "'_', '-', '.', ' ' or '/' (e.g. 'train' or 'raw/customers')."
            )
        prefix = f"nbops.dataset.{name}."
        tags = {
            prefix + "digest": self.digest,
            prefix + "algorithm": self.algorithm,
            prefix + "kind": self.kind,
            prefix + "size_bytes": str(self.size_bytes),
        }
        if self.rows is not None:
            tags[prefix + "rows"] = str(self.rows)
        if self.schema:
            schema = json.dumps(self.schema, separators=(",", ":"), ensure_ascii=False)
            if len(schema) > _MAX_TAG_VALUE:
                schema = json.dumps({"truncated": True, "entries": len(self.schema)})
            tags[prefix + "schema"] = schema
        return tags


def fingerprint(
    obj: Any,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
    progress: bool | None = None,
) -> Fingerprint:
    """Hash the full content of a dataset and describe its shape.

    Args:
        obj: a pandas DataFrame or Series, a numpy array, a torch tensor, or a path (str or
            ``os.PathLike``) to a file or directory.
        algorithm: ``"xxh3_128"`` (default, fast) or ``"sha256"`` (cryptographic).
        progress: directories only: ``True`` shows a progress bar on stderr, ``False`` never,
            ``None`` (default) for large trees when stderr is a terminal.

    Raises:
        DatasetError: the type is not supported, a path does not exist, a file changed while it
            was read, or a column holds objects without a stable byte representation.
        UsageError: unknown ``algorithm``.

    Example::

        >>> import pandas as pd
        >>> a = fingerprint(pd.DataFrame({"x": [1, 2, 3]}))
        >>> b = fingerprint(pd.DataFrame({"x": [1, 2, 4]}))
        >>> a.digest != b.digest, a.rows, a.schema
        (True, 3, {'x': 'int64'})
    """
    check_algorithm(algorithm)
    if isinstance(obj, (str, os.PathLike)):
        return _fingerprint_path(obj, algorithm, progress)

    from nbops.data import frames

    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(obj, pd.DataFrame):
            digest, schema, rows, size = frames.hash_frame(obj, algorithm)
            return Fingerprint(digest, algorithm, "dataframe", schema, rows, size)
        if isinstance(obj, pd.Series):
            digest, schema, rows, size = frames.hash_series(obj, algorithm)
            return Fingerprint(digest, algorithm, "series", schema, rows, size)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        digest, schema, rows, size = frames.hash_ndarray(obj, algorithm)
        return Fingerprint(digest, algorithm, "ndarray", schema, rows, size)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        digest, schema, rows, size = frames.hash_tensor(obj, algorithm)
        return Fingerprint(digest, algorithm, "tensor", schema, rows, size)
    t = type(obj)
    raise DatasetError(
        f"Cannot fingerprint an object of type {t.__module__}.{t.__qualname__}. nbops "
        f"fingerprints {SUPPORTED}. Convert it first (e.g. pandas.DataFrame(obj) or "
        "numpy.asarray(obj)), or save it to a file and fingerprint the path."
    )


def _fingerprint_path(obj: Any, algorithm: str, progress: bool | None) -> Fingerprint:
    from nbops.data import files

    path = Path(os.fsdecode(os.fspath(obj)))
    if path.is_dir():
        digest, count, size = files.hash_directory(path, algorithm=algorithm, progress=progress)
        return Fingerprint(digest, algorithm, "directory", {"files": count}, None, size)
    if not path.exists():
        raise DatasetError(
            f"Cannot fingerprint {str(path)!r}: no file or directory exists there (working "
            f"directory: {os.getcwd()!r}). Check the path."
        )
    if not path.is_file():
        raise DatasetError(
            f"Cannot fingerprint {str(path)!r}: it is not a regular file or directory (a socket, "
            "FIFO or device). Fingerprint a file or a folder."
        )
    digest, size = files.hash_file(path, algorithm=algorithm)
    return Fingerprint(digest, algorithm, "file", {}, None, size)
