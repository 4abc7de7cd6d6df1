#!/usr/bin/env bash
# Installs what Reach needs on Debian (libpq-dev and libxlsxwriter-dev to build, postgresql for reach's own cluster)
# when it is missing, then builds. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

need=()
dpkg -s libpq-dev >/dev/null 2>&1 || need+=(libpq-dev)
[ -x "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)" ] || need+=(postgresql)
pkg-config --exists libpq 2>/dev/null || need+=(pkg-config)
dpkg -s libxlsxwriter-dev >/dev/null 2>&1 || need+=(libxlsxwriter-dev)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

swift build -c "${REACH_BUILD_CONFIGURATION:-release}" >&2
