"""Experiment capture, one concern per module: ``run`` (``track``, the process-default
tracker), ``tracker`` (the stack of active runs), ``handle`` (``Run``, what a cell logs to),
``values`` (checks and coercion of what is logged), ``capture`` and ``capture_jobs`` (code,
git, environment, notebook), ``environment`` (the package list and its digest), ``identity``
(user, version, default experiment), ``redact`` (secrets out), ``spool`` (the durable queue),
``logger`` (the background shipper to the store), ``status`` and ``summary`` (what ``nbops
status`` and a run's summary say). MLflow itself is reached through :mod:`nbops.store`."""
