#!/usr/bin/env bash
# The README's two commands for a fresh Debian 12 machine:
#   tools/quickstart.sh serve   set up, build, and serve deploy/examples/hello.py on http://127.0.0.1:8000
#   tools/quickstart.sh test    set up, build, and run every test (`bazel test //...`, plus the wheels of the
#                               other supported CPythons: //tests/wheels:cp310/cp312/cp313); .ci/run calls this
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

set +e +o pipefail  # from here on: collect results, never stop early (a grep with no match is normal)
# Every supported CPython: the other versions' self-contained wheels (tools/build-wheels.sh, in this
# checkout's output base so what does not depend on Python compiles once) into dist/, tested by
# //tests/wheels:cp3XY (user commands and the integration suite's core subset). The project's own 3.11 wheel
# is //tests/wheels:wheels, and //tests/integration the whole suite on 3.11. A missing interpreter fails.
other_cpythons=(cp310 cp312 cp313)
rm -f dist/esg-*.whl
wheels_start=$SECONDS
ESG_WHEEL_TAGS="${other_cpythons[*]}" ESG_WHEEL_OUTPUT_BASE=$(bazel info output_base 2>/dev/null) tools/build-wheels.sh
wheels_rc=$?
echo "esg-wheels: ${other_cpythons[*]} built in $((SECONDS - wheels_start)) s (exit $wheels_rc)"
bazel test //... "${other_cpythons[@]/#/\/\/tests\/wheels:}" --test_env=ESG_WHEEL_DIST="$root/dist" "${@:2}"
rc=$?
[ "$wheels_rc" = 0 ] || { echo "tools/build-wheels.sh failed (exit $wheels_rc): see its output above"; [ "$rc" != 0 ] || rc=$wheels_rc; }
# Print every suite's summary lines, then one total, so the closing lines of the run show what passed.
passed=0
failed=0
for log in $(find -L bazel-testlogs/ -name test.log 2>/dev/null | sort); do
  summary=$(grep -E '^(=+ .*(passed|failed|error).* =+|\[  (PASSED|FAILED)  \].*)$' "$log" | tail -n 2)
  [ -n "$summary" ] && printf '%s: %s\n' "${log#bazel-testlogs/}" "$summary"
  # pytest's closing line ("=== 816 passed, 2 failed, 1 error in 5s ===") and GoogleTest's totals.
  read -r p f < <(grep -E '^=+ .*(passed|failed|error).* =+$' "$log" | tail -n 1 |
    awk '{p=0; f=0; for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^(failed|error)/) f += $(i-1) } print p, f}')
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  gp=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | tail -n 1 | grep -oE '[0-9]+' | head -1)
  gf=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | tail -n 1 | grep -oE '[0-9]+' | head -1)
  passed=$((passed + ${gp:-0}))
  failed=$((failed + ${gf:-0}))
done
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi  # a build or harness failure counts too
echo "esg-tests: $passed passed, $failed failed"
exit $rc
