"""Every error nbops raises, under one root.

    NbopsError
    ├── ConfigError             configuration cannot be used (bad URI, unwritable home, bad pyproject)
    │   └── StoreUnavailableError   the tracking store cannot be reached when a run starts
    ├── UsageError (ValueError) a call or magic got a bad argument or value
    │   └── NoActiveRunError        a logging call was made outside a run
    ├── PermanentStoreError     the store refused a request as invalid: retrying cannot succeed
    ├── PermissionDeniedError   the store refused the credentials or the permission
    ├── NotFoundError (LookupError)  a run, model, version, alias or dataset does not exist
    ├── DependencyMissingError (ImportError)  an optional library is not installed
    ├── DatasetError            a dataset cannot be fingerprinted (type, file changed while read)
    ├── PackagingError          export / parity / quantization of a model failed
    │   ├── ExportError             no exporter could turn the model into ONNX
    │   └── ParityError             ONNX outputs differ from torch beyond tolerance
    ├── MonitoringError         a drift or performance check cannot be computed
    ├── GuardRailError          a gate or retrain is refused: one in flight, cool-down, daily cap
    └── PipelineError           a pipeline spec is invalid or a step failed

Every message says what was wrong and what to do next. Tracking never raises into a user's
cell after a run started: backend failures then go to the spool (see ``nbops.tracking.shipper``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "ConflictError",
    "DatasetError",
    "DependencyMissingError",
    "ExportError",
    "GuardRailError",
    "MonitoringError",
    "NbopsError",
    "NoActiveRunError",
    "NotFoundError",
    "PackagingError",
    "ParityError",
    "PermanentStoreError",
    "PermissionDeniedError",
    "PipelineError",
    "StoreUnavailableError",
    "UsageError",
    "closest",
]


class NbopsError(Exception):
    """Root of every nbops error."""


class ConfigError(NbopsError):
    """Raised when nbops' configuration cannot be used; the message names the setting."""


class StoreUnavailableError(ConfigError):
    """Raised at run start when the tracking store cannot be reached or created."""


class UsageError(NbopsError, ValueError):
    """Raised for a bad argument: a malformed flag, an unloggable value, an unknown option."""


class NoActiveRunError(UsageError):
    """Raised when a logging call is made while no run is active."""

    def __init__(self, what: str = "nbops.log") -> None:
        super().__init__(
            f"{what}() was called outside a run. Put it inside a `%%track` cell or a "
            "`with nbops.track(...):` block."
        )


class ConflictError(UsageError):
    """Raised when a write is based on stale state, e.g. an alias moved since the page loaded;
    ``current`` is what the store holds now."""

    def __init__(self, message: str, current: str | None = None) -> None:
        super().__init__(message)
        self.current = current


class PermanentStoreError(NbopsError):
    """Raised when the store refused a request as invalid (a bad value, a name too long):
    retrying it cannot succeed. The shipper sets such an event aside; ``nbops status`` lists it."""


class PermissionDeniedError(NbopsError):
    """Raised when the store refused the credentials (401) or the permission (403)."""


class NotFoundError(NbopsError, LookupError):
    """Raised when a named run, model, version, alias or dataset does not exist."""


class DependencyMissingError(NbopsError, ImportError):
    """Raised when an optional dependency is needed but not installed."""

    def __init__(self, package: str, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'nbops[{extra}]'"
        )
        self.package = package


class DatasetError(NbopsError):
    """Raised when a dataset cannot be fingerprinted."""


class PackagingError(NbopsError):
    """Raised when a model cannot be packaged."""


class ExportError(PackagingError):
    """Raised when neither ONNX exporter could export the model."""


class ParityError(PackagingError):
    """Raised when the exported model's outputs differ from torch beyond tolerance."""


class MonitoringError(NbopsError):
    """Raised when a monitoring check cannot be computed."""


class GuardRailError(NbopsError):
    """Raised when a continuous-training guard rail refuses a gate: another one is in flight
    for the model, the cool-down after a promotion has not passed, or the daily cap is reached."""


class PipelineError(NbopsError):
    """Raised when a pipeline spec is invalid or a pipeline step failed."""


def closest(name: str, known: Iterable[str], n: int = 3) -> str:
    """Return a " Did you mean ...?" hint (or "") listing the known names closest to ``name``."""
    matches = difflib.get_close_matches(name, list(known), n=n, cutoff=0.5)
    return f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
