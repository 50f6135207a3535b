#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz (clang-14, ASan + UBSan) on its corpus, keeping new inputs there.
#   tools/fuzz.sh AREA/TARGET [SECONDS] [extra libFuzzer flags...]   e.g. tools/fuzz.sh http/request_parser 1800
# Builds with --config=fuzz in its own Bazel output base (the normal build is not invalidated). New corpus
# entries land in tests/fuzz/AREA/corpus/TARGET/ (commit the ones worth keeping; findings as crash-* files are
# written to tests/fuzz/findings/ — minimise, fix, then add the input to the corpus as a regression).
# Prints the executions and the finding count at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
spec=${1:?usage: tools/fuzz.sh AREA/TARGET [SECONDS] [libFuzzer flags...]}
area=${spec%%/*}
target=${spec#*/}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
command -v clang-14 >/dev/null || { echo "fuzz: clang-14 is missing (apt-get install clang-14 libfuzzer-14-dev)" >&2; exit 1; }
base=${ESG_FUZZ_OUTPUT_BASE:-$HOME/.cache/esg-fuzz-$(echo "$root" | md5sum | cut -c1-8)}
bazel --output_base="$base" build --config=fuzz --symlink_prefix=/ "//tests/fuzz/${area}:${target}_fuzzer" >&2
bin="$base/execroot/esg/bazel-out/k8-fastbuild/bin/tests/fuzz/${area}/${target}_fuzzer"
corpus=tests/fuzz/$area/corpus/$target
mkdir -p "$corpus" tests/fuzz/findings
log=$(mktemp /tmp/esg-fuzz-$area-$target.XXXXXX.log)
set +e
"$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=tests/fuzz/findings/"$area-$target"- \
  -timeout=10 -rss_limit_mb=2048 "$@" "$corpus" 2>"$log"
rc=$?
set -e
tail -n 25 "$log" >&2
execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
echo "fuzz $area/$target: ${seconds}s, $execs executions, exit $rc (log: $log)"
exit $rc
