#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job on reach's
# own PostgreSQL cluster (or on REACH_DATABASE_URL when set): migrate, append a few events,
# read them back and verify the log.
set -euo pipefail
cd "$(dirname "$0")/.."
Deploy/setup.sh
reach=".build/${REACH_BUILD_CONFIGURATION:-release}/reach"

say() { printf '\n== %s\n' "$*"; }

say "reach db migrate"
"$reach" db migrate

school="school-DEMO-$(date +%s)"
say "reach events append $school ... (a school registered, then an assembly)"
"$reach" events append "$school" school_registered \
    '{"school_id":"DEMO-0001","name":"Example Academy","phase":"secondary"}' \
    --expected-version none --authority DEMO --occurred-on 2024-09-02
"$reach" events append "$school" activity_delivered \
    '{"kind":"assembly","duration_minutes":45,"attendance":{"pupils_ks3":180,"staff_teaching":6}}' \
    --expected-version 1 --authority DEMO --occurred-on 2024-10-03

say "appending with a stale expected version is refused"
if "$reach" events append "$school" activity_delivered '{"kind":"assembly"}' --expected-version 1; then
    echo "unexpected: a stale append was accepted" >&2
    exit 1
fi

say "reach events read $school"
"$reach" events read "$school"

say "reach events verify"
"$reach" events verify

say "reach db status"
"$reach" db status
