#!/usr/bin/env bash
# The README's second command: install what is missing and run every test. The tests start a
# throwaway PostgreSQL cluster of their own (as the `postgres` user when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
REACH_BUILD_CONFIGURATION=debug Deploy/setup.sh
swift test "$@"
