#!/usr/bin/env bash
# Growth: loads the demo data set at a given size into a cluster of its own and times what an
# operator runs on it: the load, `reach events verify`, a full rebuild of every projection, and
# the metric queries of one authority and one academic year (p50/p95, from reach bench
# projections --existing --queries-only); then the disk it takes, per million events.
#
#   swift build -c release && Deploy/growth.sh 30000000 /var/tmp/reach-growth
#
# The data directory must not exist yet (the figures are of a fresh load). It needs about
# 1.5 GB per million events, and is left in place for further measurement; remove it with
# `REACH_DATA_DIR=DIR reach db stop && rm -rf DIR`.
set -euo pipefail
events=${1:?how many events: Deploy/growth.sh EVENTS DATA_DIR}
directory=${2:?where: Deploy/growth.sh EVENTS DATA_DIR}
reach=${REACH_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.build/release/reach}
[ -x "$reach" ] || { echo "no $reach: swift build -c release first" >&2; exit 1; }
command -v bc > /dev/null || { echo "growth.sh needs bc: apt-get install bc" >&2; exit 1; }
[ ! -e "$directory" ] || { echo "$directory exists: give a new directory" >&2; exit 1; }
export REACH_DATA_DIR=$directory
unset REACH_DATABASE_URL

timed() { # slug, label, command...: runs it, prints its wall-clock seconds
    local name=$1 label=$2; shift 2
    local start end
    start=$(date +%s.%N)
    "$@" > "$directory.$name.out" 2>&1 || { echo "$name failed:"; tail -20 "$directory.$name.out"; exit 1; }
    end=$(date +%s.%N)
    printf '%-32s %10.1f s\n' "$label" "$(echo "$end - $start" | bc)"
}

echo "reach growth: $events demo events in $directory ($(nproc) cores, $(date -u +%FT%TZ))"
timed load "load (reach demo)" "$reach" demo --events "$events"
timed verify "verify (reach events verify)" "$reach" events verify
timed rebuild "rebuild (projections rebuild all)" "$reach" projections rebuild all
"$reach" db status
"$reach" bench projections --existing --queries-only | tee "$directory.queries.out"
"$reach" db stop > /dev/null
bytes=$(du -sb "$directory" | cut -f1)
wal=$(du -sb "$directory/pg_wal" | cut -f1)
echo "disk: $bytes bytes in all, $wal of them WAL"
echo "per million events: $(echo "scale=1; ($bytes - $wal) * 1000000 / $events / 1048576" | bc) MiB without WAL, $(echo "scale=1; $bytes * 1000000 / $events / 1048576" | bc) MiB with it"
