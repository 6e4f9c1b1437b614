"""Experiment capture: runs (``run``), what they capture (``capture``), redaction (``redact``),
the durable spool (``spool``), the async logger (``logger``) and the MLflow adapter (``store``)."""
