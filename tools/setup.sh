#!/usr/bin/env bash
# ESG set-up for a fresh Debian 12 machine, idempotent: installs the missing Debian packages
# (tools/debian-packages.txt) and creates/updates the project virtualenv (.venv) from the one chosen
# interpreter (tools/python_interpreter, or $ESG_PYTHON) with the pinned requirements.txt.
# Fails loudly, naming what could not be installed.
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
venv=${ESG_VENV:-$root/.venv}
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.esg-python" 2>/dev/null)" != "$python" ]; then
  say "creating virtualenv $venv from $python"
  rm -rf "$venv"
  "$python" -m venv "$venv" || die "cannot create a virtualenv with $python (is python3-venv installed?)"
  echo "$python" > "$venv/.esg-python"
fi
stamp="$venv/.esg-requirements"
if ! cmp -s requirements.txt "$stamp"; then
  say "installing pinned Python packages into $venv"
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt >/tmp/esg-pip.log 2>&1; then
    tail -20 /tmp/esg-pip.log >&2
    bad=$(grep -oE "(No matching distribution found for|Could not find a version that satisfies the requirement) [^ ]+" /tmp/esg-pip.log | head -1 | awk '{print $NF}')
    die "pip could not install ${bad:-the pinned requirements} (full log: /tmp/esg-pip.log)"
  fi
  cp requirements.txt "$stamp"
fi
say "ready: $python, virtualenv $venv"
