"""The ``gisfix`` command line: one module per verb, shared options in :mod:`.options`."""
