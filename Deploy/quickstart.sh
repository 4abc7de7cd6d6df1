#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job on reach's
# own PostgreSQL cluster (or on REACH_DATABASE_URL when set): load the demo data set, record an
# assembly by hand, import a spreadsheet made from a template, compute figures, export a local
# authority's summary with small numbers suppressed, and verify the log. It ends with the web app
# and API running on the demo data (`reach serve`), printing the address and one demo sign-in
# per role; Ctrl-C stops it. `Deploy/quickstart.sh --no-serve` stops before serving.
set -euo pipefail
cd "$(dirname "$0")/.."
Deploy/setup.sh
reach="$PWD/.build/${REACH_BUILD_CONFIGURATION:-release}/reach"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\n== %s\n' "$*"; }

say "reach demo   (a synthetic data set: about 30 authorities, 400 schools, 100,000 events)"
"$reach" demo

say "reach record   (an assembly, by hand; sending it again changes nothing)"
echo '{"type":"activity_delivered","id":"quickstart-assembly-1","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2025-03-04","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":210},"staff":{"teaching":7}}}}' \
    | "$reach" record -

say "reach record   (a mistake is refused, naming the field and the rule)"
echo '{"type":"activity_delivered","id":"quickstart-assembly-2","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"asembly","date":"2025-02-30","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":-3}}}}' \
    | "$reach" record - || true

say "reach template activity_delivered > activity_delivered-term.csv; reach import activity_delivered-term.csv"
"$reach" template activity_delivered | sed 's/^example-1,/quickstart-term-1,/' > "$work/activity_delivered-term.csv"
cat "$work/activity_delivered-term.csv"
"$reach" import "$work/activity_delivered-term.csv"

say "reach metrics --la northvale --period 2024/25 --metric sessions --metric pilot_progress   (the projections catch up first)"
"$reach" metrics --la northvale --period 2024/25 --metric sessions --metric pilot_progress

say "reach metrics --period 2024/25 --metric attendances --by region --publish   (small numbers suppressed, dfe policy)"
"$reach" metrics --period 2024/25 --metric attendances --by region --publish --format csv | head -12

say "reach export summary --la northvale --period 2024/25 --format csv   (recorded in the log as summary_exported)"
"$reach" export summary --la northvale --period 2024/25 --format csv --out "$work/northvale-2024-25.csv"
head -8 "$work/northvale-2024-25.csv"

say "reach projections status"
"$reach" projections status

say "reach events verify"
"$reach" events verify

say "reach db status"
"$reach" db status

[ "${1:-}" = "--no-serve" ] && exit 0

say "reach users add   (one demo account per role, each with a new random password)"
host="${REACH_HTTP_HOST:-127.0.0.1}"
port="${REACH_HTTP_PORT:-8080}"
signins=""
for account in "demo-staff staff northvale" "demo-researcher researcher" "demo-lead la_viewer northvale" "demo-admin admin"; do
    set -- $account
    password=$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')
    if "$reach" users list | awk '{print $1}' | grep -qx "$1"; then
        printf '%s\n' "$password" | "$reach" users passwd "$1" --password-stdin >/dev/null
    else
        printf '%s\n' "$password" | "$reach" users add "$1" --role "$2" ${3:+--la "$3"} --password-stdin >/dev/null
    fi
    signins+=$(printf '  %-16s %-22s password %s' "$1" "$2${3:+ of $3}" "$password")$'\n'
done

say "reach serve   (the web app and the API, on the demo data)"
cat <<EOF
Open http://$host:$port/ in a browser and sign in as one of these demo accounts:
$signins
The API's contract is at http://$host:$port/api/openapi.yaml. Ctrl-C stops the service.
EOF
exec "$reach" serve --host "$host" --port "$port"
