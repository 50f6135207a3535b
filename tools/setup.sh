#!/usr/bin/env bash
# ESG set-up for a fresh Debian 12 machine, idempotent: installs the missing Debian packages
# (tools/debian-packages.txt) and creates/updates the project virtualenv (.venv) from the one chosen
# interpreter (tools/python_interpreter, or $ESG_PYTHON) with the pinned requirements.txt, and the deployment
# tools virtualenv (.venv-tools: circus, kubernetes-validate from tools/requirements-tools.txt, which the
# deployment tests run for real), then unpacks the pinned llhttp C sources (third_party/llhttp/dist,
# gitignored) that Bazel builds offline from then on. Fails loudly, naming what could not be installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { printf 'esg-setup: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: run as root to install Debian packages"
  sudo_cmd=(sudo)
fi

mapfile -t wanted < <(grep -v '^\s*#' tools/debian-packages.txt | awk 'NF {print $1}')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die "apt-get update failed"
  if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/esg-apt.log 2>&1; then
    for pkg in "${missing[@]}"; do
      "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >>/tmp/esg-apt.log 2>&1 \
        || die "cannot install Debian package '$pkg' (see /tmp/esg-apt.log)"
    done
  fi
fi

python=${ESG_PYTHON:-$(tr -d '[:space:]' < tools/python_interpreter)}
[ -x "$python" ] || die "Python interpreter '$python' (tools/python_interpreter) is not executable"
# ensure_venv PYTHON DIR REQUIREMENTS LOG: DIR is a virtualenv of PYTHON with REQUIREMENTS installed (pip and
# the package index as pip is configured on this machine). Cheap when the stamps say nothing changed.
ensure_venv() {
  local python=$1 dir=$2 requirements=$3 log=$4
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.esg-python" 2>/dev/null)" != "$python" ]; then
    say "creating virtualenv $dir from $python"
    rm -rf "$dir"
    "$python" -m venv "$dir" || die "cannot create a virtualenv with $python (is python3-venv installed?)"
    echo "$python" > "$dir/.esg-python"
  fi
  local stamp="$dir/.esg-requirements"
  if ! cmp -s "$requirements" "$stamp"; then
    say "installing pinned Python packages ($requirements) into $dir"
    if ! "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" >"$log" 2>&1; then
      tail -20 "$log" >&2
      local bad
      bad=$(grep -oE "(No matching distribution found for|Could not find a version that satisfies the requirement) [^ ]+" "$log" | head -1 | awk '{print $NF}')
      die "pip could not install ${bad:-the pinned requirements of $requirements} (full log: $log)"
    fi
    cp "$requirements" "$stamp"
  fi
}

venv=${ESG_VENV:-$root/.venv}
ensure_venv "$python" "$venv" requirements.txt /tmp/esg-pip.log

# The deployment tools the tests run for real (circusd/circusctl, kubernetes-validate), in their own
# virtualenv of Debian's Python 3: they are not ESG dependencies and must not change .venv. The tests look
# for them at <repository>/.venv-tools/bin and fail, naming this script, when they are missing.
ensure_venv /usr/bin/python3 "$root/.venv-tools" tools/requirements-tools.txt /tmp/esg-pip-tools.log

# llhttp 9.4.3 (the request parser's engine): its generated C sources ship in the httptools 0.9.0 sdist,
# fetched with the virtualenv's pip from the package index pip is configured with, pinned by checksum.
# Only vendor/llhttp is kept. WORKSPACE's @llhttp points at the result.
llhttp_version=9.4.3
llhttp_sdist=httptools-0.9.0.tar.gz
llhttp_sha256=d484ebb7e3a3f3597b0f645fbd1b85633674ca808c1f5ba11c2caf7c66f5c8b6
llhttp_dir=third_party/llhttp/dist
if [ "$(cat "$llhttp_dir/.esg-version" 2>/dev/null)" != "$llhttp_version $llhttp_sha256" ]; then
  say "fetching llhttp $llhttp_version (vendor/llhttp of the $llhttp_sdist sdist)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps \
      -d "$tmp" httptools==0.9.0 >/tmp/esg-pip-llhttp.log 2>&1; then
    tail -5 /tmp/esg-pip-llhttp.log >&2
    die "pip could not download the httptools 0.9.0 sdist (llhttp sources; log: /tmp/esg-pip-llhttp.log)"
  fi
  [ -f "$tmp/$llhttp_sdist" ] || die "pip did not produce $llhttp_sdist"
  echo "$llhttp_sha256  $tmp/$llhttp_sdist" | sha256sum -c --quiet - >/dev/null 2>&1 \
    || die "$llhttp_sdist: sha256 mismatch (expected $llhttp_sha256)"
  tar -xzf "$tmp/$llhttp_sdist" -C "$tmp" httptools-0.9.0/vendor/llhttp || die "cannot unpack $llhttp_sdist"
  grep -q "LLHTTP_VERSION_PATCH 3" "$tmp/httptools-0.9.0/vendor/llhttp/include/llhttp.h" \
    || die "$llhttp_sdist does not hold llhttp $llhttp_version"
  rm -rf "$llhttp_dir"
  mkdir -p "$(dirname "$llhttp_dir")"
  mv "$tmp/httptools-0.9.0/vendor/llhttp" "$llhttp_dir"
  echo "$llhttp_version $llhttp_sha256" > "$llhttp_dir/.esg-version"
fi
say "ready: $python, virtualenv $venv, tools virtualenv $root/.venv-tools, llhttp $llhttp_version"
