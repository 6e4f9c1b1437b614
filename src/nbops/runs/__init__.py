"""Working with recorded runs: compare them (``compare``). Re-executing one is the workflow
:mod:`nbops.workflows.reproduce`."""
