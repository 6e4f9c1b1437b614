"""Working with recorded runs: compare them (``compare``) and re-execute one (``reproduce``)."""
