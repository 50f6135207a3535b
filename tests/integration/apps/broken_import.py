"""A module that fails while being imported: esg must exit 3 and show the traceback."""

raise ImportError("broken-import-5e1d")
