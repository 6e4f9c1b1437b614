"""The hash stream every fingerprint is built on: one algorithm, unambiguous framing.

A :class:`HashStream` wraps ``xxhash.xxh3_128`` or ``hashlib.sha256`` and adds *framing*: every
field is written as an 8-byte little-endian length followed by its bytes, so two different
sequences of fields can never produce the same byte stream (``"ab" + "c"`` vs ``"a" + "bc"``).
Large buffers are written with their length first and then fed in place (no copy).

Nothing here depends on Python's ``hash()``, on pickling, or on the machine's byte order.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from nbops.exceptions import UsageError, closest

__all__ = ["ALGORITHMS", "DEFAULT_ALGORITHM", "HashStream", "check_algorithm", "new_hasher"]

#: Hash algorithms a fingerprint can use. ``xxh3_128`` is fast and non-cryptographic (fine for
#: change detection); ``sha256`` resists deliberate collisions and is ~10x slower.
ALGORITHMS: Final = ("xxh3_128", "sha256")
DEFAULT_ALGORITHM: Final = "xxh3_128"

#: Version of the framing; bump it (and document it) if the byte stream ever changes.
FORMAT_VERSION: Final = b"nbops-fingerprint/1"


def check_algorithm(algorithm: str) -> str:
    """Return ``algorithm`` if nbops supports it, else raise :class:`UsageError` naming the choices."""
    if algorithm not in ALGORITHMS:
        raise UsageError(
            f"Unknown fingerprint algorithm {algorithm!r}; choose one of "
            f"{', '.join(ALGORITHMS)}.{closest(str(algorithm), ALGORITHMS)}"
        )
    return algorithm


def new_hasher(algorithm: str) -> Any:
    """A fresh hashlib-style object (``update``/``hexdigest``) for ``algorithm``."""
    if algorithm == "sha256":
        return hashlib.sha256()
    import xxhash  # a core dependency; imported here so `import nbops.data` stays cheap

    return xxhash.xxh3_128()


def _len8(n: int) -> bytes:
    return n.to_bytes(8, "little")


class HashStream:
    """A framed, append-only hash input. Use :meth:`field` for small values, :meth:`buffer` for data.

    Example::

        s = HashStream("xxh3_128")
        s.field("hello")
        s.buffer(memoryview(b"raw bytes"))
        s.hexdigest()
    """

    __slots__ = ("_h", "nbytes")

    def __init__(self, algorithm: str) -> None:
        self._h = new_hasher(algorithm)
        self.nbytes = 0  #: content bytes fed through :meth:`buffer` and :meth:`buffer_part`

    def field(self, value: str | bytes | int) -> None:
        """Write one small framed field (text as UTF-8, ints in decimal)."""
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogatepass")
        self._h.update(_len8(len(value)))
        self._h.update(value)

    def buffer(self, data: Any, nbytes: int | None = None) -> None:
        """Write one framed buffer of bytes (anything with the buffer protocol, C-contiguous)."""
        view = memoryview(data)
        if nbytes is None:
            nbytes = view.nbytes
        self._h.update(_len8(nbytes))
        if nbytes:
            self._h.update(view)
        self.nbytes += nbytes

    def begin_buffer(self, nbytes: int) -> None:
        """Start a framed buffer of ``nbytes`` that will arrive in parts via :meth:`buffer_part`."""
        self._h.update(_len8(nbytes))

    def buffer_part(self, data: Any) -> None:
        """Feed one part of a buffer started with :meth:`begin_buffer`."""
        view = memoryview(data)
        if view.nbytes:
            self._h.update(view)
        self.nbytes += view.nbytes

    def raw(self, data: Any) -> None:
        """Feed self-delimiting bytes (already framed by the caller) with no length prefix."""
        view = memoryview(data)
        if view.nbytes:
            self._h.update(view)
        self.nbytes += view.nbytes

    def hexdigest(self) -> str:
        """The digest so far, as lowercase hex."""
        return self._h.hexdigest()
