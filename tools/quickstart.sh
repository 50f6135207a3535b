#!/usr/bin/env bash
# The README's two commands for a fresh Debian 12 machine:
#   tools/quickstart.sh serve   set up, build, and serve deploy/examples/hello.py on http://127.0.0.1:8000
#   tools/quickstart.sh test    set up, build, and run every test (`bazel test //...`); .ci/run calls this
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
what=${1:-}
case "$what" in
  serve|test) ;;
  *) echo "usage: tools/quickstart.sh serve|test" >&2; exit 2 ;;
esac

tools/setup.sh
venv=${ESG_VENV:-$root/.venv}
export VIRTUAL_ENV=$venv  # the master starts its workers with this virtualenv's python

if [ "$what" = serve ]; then
  bazel build //:esg
  echo "Serving deploy/examples/hello.py on http://127.0.0.1:8000 (Ctrl+C stops it)"
  exec bazel-bin/server/master/esg hello:app --app-dir deploy/examples --host 127.0.0.1 --port 8000
fi

set +e
bazel test //... "${@:2}"
rc=$?
set -e
# Print every suite's summary lines, so the closing lines of the run show what passed.
for log in $(find -L bazel-testlogs/ -name test.log 2>/dev/null | sort); do
  summary=$(grep -E '^(=+ .*(passed|failed|error).* =+|\[  (PASSED|FAILED)  \].*)$' "$log" | tail -n 2)
  [ -n "$summary" ] && printf '%s: %s\n' "${log#bazel-testlogs/}" "$summary"
done
exit $rc
