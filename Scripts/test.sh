#!/usr/bin/env bash
# Runs every test of the package, the way CI does.
#
# Installs the Debian packages the integration tests drive (only those that
# are missing), starts shared services on loopback high ports, stops them by
# PID on exit, builds once and runs `swift test`. Integration tests that find
# a program missing fail instead of skipping (CDNS_REQUIRE_INTEGRATION=1).
set -euo pipefail
cd "$(dirname "$0")/.."

# package:program or package:/path pairs; a package is installed when its
# program (or file) is missing.
requirements=(
    libsqlite3-dev:/usr/include/sqlite3.h
    bind9-dnsutils:dig
    knot:knotd
    knot-dnsutils:kdig
)
missing=()
for pair in "${requirements[@]}"; do
    need="${pair#*:}"
    if [[ "$need" == /* ]]; then
        [ -e "$need" ] || missing+=("${pair%%:*}")
    else
        command -v "$need" >/dev/null 2>&1 || missing+=("${pair%%:*}")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export CDNS_REQUIRE_INTEGRATION=1
swift build --build-tests
swift test --skip-build
