#!/usr/bin/env bash
# Runs one pytest suite under `bazel test`: the project virtualenv's python, the built `esg` binary as
# ESG_BIN, the virtualenv's python for the workers (ESG_PYTHON), pytest's files in the test's temp dir.
# Usage (from a sh_test): pytest_runner.sh VENV_PYTHON ESG_BIN SUITE_DIR [pytest args...]
set -euo pipefail
venv_python=$1
esg_bin=$2
suite=$3
shift 3
if [ ! -x "$venv_python" ]; then
  echo "pytest_runner: $venv_python is missing; run tools/setup.sh first" >&2
  exit 1
fi
export ESG_BIN=$(realpath "$esg_bin")
export ESG_PYTHON=${ESG_PYTHON:-$venv_python}
export RUNFILES_DIR=${RUNFILES_DIR:-$PWD/..}
export PYTHONDONTWRITEBYTECODE=1
# A short temp dir: UNIX socket paths must stay under 108 bytes (Bazel's TEST_TMPDIR is far longer).
tmp=$(mktemp -d /tmp/esgt.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Follow the symlinked runfiles back to the source tree, so pytest's rootdir and imports are the real files.
suite_dir=$(realpath "$suite")
cd "$suite_dir"
set +e
"$venv_python" -m pytest -p no:cacheprovider --basetemp="$tmp/pytest" "$suite_dir" "$@"
rc=$?
set -e
# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
exit $rc
