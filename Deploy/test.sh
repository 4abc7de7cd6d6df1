#!/usr/bin/env bash
# The README's second command: install what is missing and run every test. The tests start a
# throwaway PostgreSQL cluster of their own (as the `postgres` user when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
REACH_BUILD_CONFIGURATION=debug Deploy/setup.sh
# The HTTP service's contract tests use schemathesis and openapi-spec-validator, and the web
# app's browser tests Selenium and axe-core (axe-selenium-python), from PyPI, kept in a virtual
# environment of their own under .build.
if [ ! -x .build/pytools/bin/schemathesis ]; then
    python3 -m venv .build/pytools 2>/dev/null || {
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv .build/pytools
    }
    .build/pytools/bin/pip install -q --disable-pip-version-check schemathesis openapi-spec-validator >&2
fi
# The disclosure tests' independent attacker solves published tables with SciPy's MILP (HiGHS).
.build/pytools/bin/python -c 'import selenium, axe_selenium_python, openpyxl, scipy' 2>/dev/null ||
    .build/pytools/bin/pip install -q --disable-pip-version-check selenium axe-selenium-python openpyxl scipy==1.17.1 numpy==2.4.6 >&2
# The web app's browser tests drive Debian's Chromium (never a downloaded browser); its PDF
# reports are made by Debian's WeasyPrint.
missing=()
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing+=(chromium chromium-driver)
[ -x /usr/bin/weasyprint ] || missing+=(weasyprint)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$PWD/.build/pytools/bin:$PATH"
swift test "$@"
