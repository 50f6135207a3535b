"""Puts the built `esg` package first on sys.path: the runfiles of //:esg (bazel test sets RUNFILES_DIR;
by hand: RUNFILES_DIR=bazel-bin/server/master/esg.runfiles), so the tests import the package with its
built `_esg` extension and generated modules, not a copy installed elsewhere."""

import os
import sys

_runfiles = os.environ.get("RUNFILES_DIR")
if not _runfiles:
    raise RuntimeError("set RUNFILES_DIR to bazel-bin/server/master/esg.runfiles (bazel test does it)")
sys.path.insert(0, os.path.join(_runfiles, "esg", "server", "python"))
