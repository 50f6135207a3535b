#!/usr/bin/env bash
# The integration suite's core (HTTP protocol, ASGI receive/send/scope/lifespan, WebSocket, interfaces,
# frameworks, WSGI) against an installed wheel, per CPython: for each TAG (default cp310 cp311 cp312 cp313) a fresh
# virtualenv of that CPython gets dist/esg-*-TAG-*.whl plus the apps' dependencies from the package index; the
# suite (pytest in the project's .venv) then runs that venv's `esg` with workers on that venv's python.
#
#   tools/build-wheels.sh && tests/wheels/core_suite.sh [TAG...]
#
# Interpreters as in test_wheels.py ($ESG_WHEEL_PYTHON_cp3XY, else cp311 is /usr/bin/python3.11, the others pyenv's newest 3.X.*; a missing
# wheel or interpreter fails. Exits non-zero when any suite fails; prints one summary line per TAG.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIST=${ESG_WHEEL_DIST:-$ROOT/dist}
TAGS=("$@")
[ ${#TAGS[@]} -gt 0 ] || TAGS=(cp310 cp311 cp312 cp313)
SUITE=(test_http_protocol.py test_receive_send.py test_scope.py test_lifespan.py test_websocket.py
       test_interfaces.py test_frameworks.py test_wsgi.py)
# What the suite's apps import in the workers (pins from requirements.txt).
APP_DEPS=$(grep -E '^(starlette|fastapi|django|flask|uvloop|anyio|a2wsgi|asgiref)==' "$ROOT/requirements.txt")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
rc=0
for tag in "${TAGS[@]}"; do
  minor=${tag#cp3}
  forced=ESG_WHEEL_PYTHON_$tag
  python=${!forced:-}
  if [ -z "$python" ] && [ "$tag" = cp311 ] && [ -x /usr/bin/python3.11 ]; then python=/usr/bin/python3.11; fi
  if [ -z "$python" ]; then
    python=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$minor".* 2>/dev/null | grep -E "/3\.$minor\.[0-9]+$" |
             sort -V | tail -n 1)
    [ -n "$python" ] && python=$python/bin/python3
  fi
  wheel=$(ls "$DIST"/esg-*-"$tag"-"$tag"-manylinux_*.whl 2>/dev/null | tail -n 1)
  if [ -z "$python" ] || [ -z "$wheel" ]; then
    echo "core_suite $tag: FAILED (interpreter: ${python:-missing}, wheel: ${wheel:-missing})"
    rc=1
    continue
  fi
  venv=$WORK/$tag
  pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel")
  # The pins first; an older CPython some pins no longer support (starlette 1.x needs 3.11) gets the newest
  # releases that support it.
  "$python" -m venv "$venv" && { "${pip[@]}" $APP_DEPS >"$WORK/$tag.pip" 2>&1 ||
                                 "${pip[@]}" $(echo "$APP_DEPS" | sed 's/==.*//') >>"$WORK/$tag.pip" 2>&1; }
  if [ $? != 0 ]; then
    echo "core_suite $tag: FAILED to install ($(tail -n 3 "$WORK/$tag.pip"))"
    rc=1
    continue
  fi
  site=$(echo "$venv"/lib/python3*/site-packages)
  (cd "$ROOT/tests/integration" &&
    env -u RUNFILES_DIR -u ESG_PYTHONPATH ESG_BIN="$site/esg/bin/esg" ESG_PYTHON="$venv/bin/python" \
      PYTHONDONTWRITEBYTECODE=1 "$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "${SUITE[@]}" \
      >"$WORK/$tag.log" 2>&1)
  status=$?
  version=$("$python" -c 'import platform; print(platform.python_version())')
  echo "core_suite $tag ($version): $(tail -n 1 "$WORK/$tag.log" | tr -s ' ')"
  if [ $status != 0 ]; then grep -E "^(FAILED|ERROR)" "$WORK/$tag.log" | head -n 20; rc=1; fi
done
exit $rc
