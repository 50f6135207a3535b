#!/usr/bin/env bash
# Builds esg with --config=asan (gcc AddressSanitizer + UndefinedBehaviorSanitizer: the master, the engine and
# the `_esg` extension) and runs the socket suites against it: the protocol, strict-HTTP, limits, WebSocket and
# app-error integration files and tests/adversarial. Fails when a suite fails or when any sanitizer report was
# written (reports go to files, one per process, so worker reports are caught even when a worker dies).
#   tools/sanitize.sh [pytest args...]          e.g. tools/sanitize.sh -x -k websocket
# Environment: ESG_ASAN_OUTPUT_BASE (default ~/.cache/esg-asan-<hash of the checkout>; own output base, so the
# normal build is never invalidated), ESG_SANITIZE_SUITES (default: the list below), ESG_SANITIZE_LOGS (where
# reports are written; default a fresh temp dir, kept when something was found).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)
venv_python=$root/.venv/bin/python
[ -x "$venv_python" ] || { echo "sanitize: $venv_python is missing; run tools/setup.sh first" >&2; exit 1; }

base=${ESG_ASAN_OUTPUT_BASE:-$HOME/.cache/esg-asan-$(echo "$root" | md5sum | cut -c1-8)}
bazel --output_base="$base" build --config=asan //:esg >&2
bin_dir=$(bazel --output_base="$base" info --config=asan bazel-bin 2>/dev/null)
esg=$bin_dir/server/master/esg
[ -x "$esg" ] || { echo "sanitize: $esg was not built" >&2; exit 1; }

# The workers are the venv's (uninstrumented) python loading the instrumented `_esg` extension: ASan's runtime
# must be the first library of that process, so the workers' interpreter is a wrapper preloading it. Only the
# workers get it (pytest and its helpers run without ASan).
libasan=$(gcc -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "sanitize: gcc's libasan.so is missing (apt-get install libasan8 / gcc)" >&2; exit 1; }
logs=${ESG_SANITIZE_LOGS:-$(mktemp -d /tmp/esg-sanitize.XXXXXX)}
mkdir -p "$logs"
rm -f "$logs"/sanitizer.*
wrapper=$logs/python
cat > "$wrapper" <<EOF
#!/bin/sh
LD_PRELOAD="$libasan\${LD_PRELOAD:+ \$LD_PRELOAD}" exec "$venv_python" "\$@"
EOF
chmod +x "$wrapper"

# detect_leaks=0: CPython keeps its objects at exit by design. A small quarantine keeps the workers' RSS near
# a normal build's, so the adversarial suite's RSS bounds still mean something. Both runtimes write to
# sanitizer.<pid> (with gcc the two share the report file: an ASan report may come through UBSan's path).
export ASAN_OPTIONS="detect_leaks=0:log_path=$logs/sanitizer:quarantine_size_mb=16:malloc_context_size=20:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/sanitizer:${UBSAN_OPTIONS:-}"
export ESG_BIN=$esg
export ESG_PYTHON=$wrapper
export RUNFILES_DIR=$esg.runfiles
export PYTHONDONTWRITEBYTECODE=1
export ESG_ADV_SLOWDOWN=${ESG_ADV_SLOWDOWN:-3}
unset WEB_CONCURRENCY FORWARDED_ALLOW_IPS

suites=${ESG_SANITIZE_SUITES:-"tests/integration/test_http_protocol.py tests/integration/test_strict_http.py
  tests/integration/test_limits.py tests/integration/test_websocket.py tests/integration/test_app_errors.py
  tests/adversarial"}
tmp=$(mktemp -d /tmp/esgs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
# One pytest per suite directory (each has its own conftest/pytest.ini).
for dir in tests/integration tests/adversarial; do
  files=()
  for s in $suites; do
    case $s in "$dir" | "$dir"/*) files+=("$root/$s") ;; esac
  done
  [ ${#files[@]} -gt 0 ] || continue
  echo "sanitize: pytest ${files[*]#$root/}" >&2
  (cd "$root/$dir" && "$venv_python" -m pytest -p no:cacheprovider -q --basetemp="$tmp/${dir##*/}" \
    "${files[@]}" "$@") || failed=1
done

reports=$(ls "$logs" | grep -E '^sanitizer\.' || true)
if [ -n "$reports" ]; then
  echo "sanitize: sanitizer reports in $logs:" >&2
  for r in $reports; do echo "=== $r" >&2; head -c 20000 "$logs/$r" >&2; done
  failed=1
fi
echo "sanitize: $(( $(date +%s) - start ))s, $(echo -n "$reports" | grep -c . || true) report(s), suites $([ $failed = 0 ] && echo passed || echo FAILED)" >&2
[ -n "$reports" ] || [ -n "${ESG_SANITIZE_LOGS:-}" ] || rm -rf "$logs"
exit $failed
