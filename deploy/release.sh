#!/bin/bash
# release.sh SOURCE_DIR — deploy a new release of the app in its own directory and virtualenv, switch the
# `current` symlink to it, reload ESG, check health, and roll back to the previous release if it fails.
#
#   $ESG_ROOT/releases/<id>/         the app files (copied from SOURCE_DIR) + venv/ (+ RELEASE: the id)
#   $ESG_ROOT/current -> releases/<id>   what the service runs (e.g. esg.service: WorkingDirectory and
#                                        ExecStart under /srv/esg/current); switched atomically (rename)
#
# Settings (environment):
#   ESG_ROOT            deployment root                              [/srv/esg]
#   ESG_RELOAD          command that makes the service pick up `current`   [systemctl reload esg]
#   ESG_HEALTH_URL      URL that must answer 2xx after the reload    [http://localhost/healthz]
#   ESG_HEALTH_SOCKET   UNIX socket to send the health request over (curl --unix-socket)  [none]
#   ESG_HEALTH_EXPECT   text the health answer must contain ("@RELEASE@" = the new release id)  [none]
#   ESG_HEALTH_TRIES / ESG_HEALTH_INTERVAL   attempts and seconds between them  [30 / 1]
#   ESG_PYTHON          interpreter the virtualenvs are made from    [/usr/bin/python3]
#   ESG_VENV_ARGS       extra `python -m venv` arguments (e.g. --system-site-packages)  [none]
#   ESG_PIP_ARGS        extra `pip install` arguments (e.g. --no-index --find-links /srv/wheels)  [none]
#   ESG_KEEP            releases to keep (older ones are deleted; current and previous never)  [5]
# Exit status: 0 deployed; 1 the new release failed and the previous one is back; 2 usage or build error
# (nothing was switched).
set -euo pipefail

usage() { echo "usage: $0 SOURCE_DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
SOURCE=$(cd "$1" && pwd) || usage
ROOT=${ESG_ROOT:-/srv/esg}
RELOAD=${ESG_RELOAD:-systemctl reload esg}
HEALTH_URL=${ESG_HEALTH_URL:-http://localhost/healthz}
HEALTH_SOCKET=${ESG_HEALTH_SOCKET:-}
HEALTH_EXPECT=${ESG_HEALTH_EXPECT:-}
TRIES=${ESG_HEALTH_TRIES:-30}
INTERVAL=${ESG_HEALTH_INTERVAL:-1}
PYTHON=${ESG_PYTHON:-/usr/bin/python3}
KEEP=${ESG_KEEP:-5}

log() { echo "release: $*" >&2; }

mkdir -p "$ROOT/releases"
ID=$(date -u +%Y%m%dT%H%M%SZ)-$$
NEW="$ROOT/releases/$ID"

# 1. A fresh tree and virtualenv; never touch a directory that is serving.
log "building $NEW"
mkdir "$NEW"
if ! ( cp -a "$SOURCE/." "$NEW/" && rm -rf "$NEW/venv" "$NEW/.venv" &&
       echo "$ID" > "$NEW/RELEASE" &&
       "$PYTHON" -m venv ${ESG_VENV_ARGS:-} "$NEW/venv" &&
       if [ -f "$NEW/requirements.txt" ]; then
           "$NEW/venv/bin/pip" install --quiet ${ESG_PIP_ARGS:-} -r "$NEW/requirements.txt"
       fi ); then
    log "building the release failed; nothing was switched"
    rm -rf "$NEW"
    exit 2
fi

# 2. Switch `current` atomically (a symlink renamed over the old one), remembering the previous target.
PREVIOUS=$(readlink "$ROOT/current" 2>/dev/null || true)
switch_to() {
    ln -sfn "$1" "$ROOT/current.switch"
    mv -T "$ROOT/current.switch" "$ROOT/current"
}
switch_to "releases/$ID"
log "current -> releases/$ID (was ${PREVIOUS:-nothing})"

healthy() {
    local expect=${HEALTH_EXPECT//@RELEASE@/$1} body i
    local curl_args=(--silent --show-error --fail --max-time 5)
    [ -n "$HEALTH_SOCKET" ] && curl_args+=(--unix-socket "$HEALTH_SOCKET")
    for ((i = 1; i <= TRIES; i++)); do
        if body=$(curl "${curl_args[@]}" "$HEALTH_URL" 2>/dev/null); then
            if [ -z "$expect" ] || [[ "$body" == *"$expect"* ]]; then
                return 0
            fi
        fi
        sleep "$INTERVAL"
    done
    return 1
}

# 3. Reload and verify; roll back on failure.
if sh -c "$RELOAD" && healthy "$ID"; then
    log "release $ID is healthy"
else
    log "release $ID failed its health check"
    if [ -n "$PREVIOUS" ]; then
        switch_to "$PREVIOUS"
        sh -c "$RELOAD" || log "reloading the previous release failed too"
        if healthy "$(basename "$PREVIOUS")"; then
            log "rolled back to $PREVIOUS"
        else
            log "rolled back to $PREVIOUS, but it is not healthy either"
        fi
    else
        rm -f "$ROOT/current"
        log "no previous release to roll back to"
    fi
    mv "$NEW" "$NEW.failed"
    exit 1
fi

# 4. Keep the newest $KEEP releases (and always current and previous) for quick rollbacks.
cd "$ROOT/releases"
ls -1d -- */ 2>/dev/null | sed 's#/$##' | grep -v '\.failed$' | sort -r | tail -n +"$((KEEP + 1))" |
while read -r old; do
    [ "releases/$old" = "$PREVIOUS" ] && continue
    [ "$old" = "$ID" ] && continue
    rm -rf -- "$old"
done
exit 0
