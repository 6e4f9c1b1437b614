"""The nbops version: a leaf module, so that any part of nbops can read it without importing
the package's public API (``nbops/__init__.py``)."""

__version__ = "0.1.0"
