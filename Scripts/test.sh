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
    libssl-dev:/usr/include/openssl/evp.h
    postgresql:/usr/lib/postgresql
    postgresql-client:psql
    sqlite3:sqlite3
    bind9-dnsutils:dig
    bind9-dnsutils:nsupdate
    knot:knotd
    knot-dnsutils:kdig
    knot-dnsutils:knsupdate
    knot-dnssecutils:kzonecheck
    nsd:nsd
    bind9:named
    pebble:pebble
    dnsperf:dnsperf
    wrk:wrk
    lego:lego
    certbot:certbot
    python3-certbot-dns-rfc2136:/usr/lib/python3/dist-packages/certbot_dns_rfc2136
    python3-zope.interface:/usr/lib/python3/dist-packages/zope/interface
    python3-venv:/usr/lib/python3.11/ensurepip
    curl:curl
    openssl:openssl
    python3-yaml:/usr/lib/python3/dist-packages/yaml
    systemd:systemd-analyze
    prometheus:promtool
    caddy:caddy
    docker-compose:docker-compose
    iproute2:ip
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

# Python programs from PyPI, each in its own venv under .build (made once):
# certbot-dns-acmedns over Debian's certbot (run with the venv's Python),
# and schemathesis.
venvs=.build/test-venvs
if [ ! -x "$venvs/certbot/bin/python" ] || ! "$venvs/certbot/bin/python" -c "import certbot_dns_acmedns, mock" 2>/dev/null; then
    echo "test.sh: making $venvs/certbot (certbot-dns-acmedns from PyPI)"
    /usr/bin/python3 -m venv --system-site-packages "$venvs/certbot"
    "$venvs/certbot/bin/pip" install -q certbot-dns-acmedns==0.1.0 mock
fi
if [ ! -x "$venvs/schemathesis/bin/schemathesis" ]; then
    echo "test.sh: making $venvs/schemathesis (from PyPI)"
    python3 -m venv "$venvs/schemathesis"
    "$venvs/schemathesis/bin/pip" install -q schemathesis
fi
export CDNS_CERTBOT_PYTHON="$PWD/$venvs/certbot/bin/python"
export CDNS_SCHEMATHESIS="$PWD/$venvs/schemathesis/bin/schemathesis"

# PostgreSQL for the store tests: a throw-away cluster on a loopback high
# port, owned by the postgres user (initdb refuses root), stopped by PID.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pgdir=$(mktemp -d /tmp/cdnsd-pg.XXXXXX)
chown postgres "$pgdir"
pgport=$(( 30000 + RANDOM % 20000 ))
stop_postgres() {
    if [ -f "$pgdir/data/postmaster.pid" ]; then
        kill -INT "$(head -n 1 "$pgdir/data/postmaster.pid")" 2>/dev/null || true
        for _ in $(seq 50); do [ -f "$pgdir/data/postmaster.pid" ] || break; sleep 0.1; done
    fi
    rm -rf "$pgdir"
}
trap stop_postgres EXIT
su postgres -s /bin/sh -c "$pgbin/initdb -D $pgdir/data -A trust -U postgres" >"$pgdir/initdb.log" 2>&1
su postgres -s /bin/sh -c "$pgbin/pg_ctl -D $pgdir/data -l $pgdir/postgres.log -w -o '-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=on' start" >/dev/null
export CDNS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pgport/postgres"
echo "test.sh: PostgreSQL on 127.0.0.1:$pgport (pid $(head -n 1 "$pgdir/data/postmaster.pid"))"

export CDNS_REQUIRE_INTEGRATION=1
swift build --build-tests
swift test --skip-build --skip EmbedACMETests

# The libraries as libraries: their DocC catalogs build without a warning,
# and the two embedding examples (separate packages depending on this one
# by path) build and run, EmbedACME against pebble in a second test run.
swift package --disable-sandbox generate-documentation --target DNSWire --target ZoneStore --target ACMEClient --warnings-as-errors
(cd Examples/EmbedDNSWire && swift build && .build/debug/EmbedDNSWire)
(cd Examples/EmbedACME && swift build)
CDNS_EMBED_ACME="$PWD/Examples/EmbedACME/.build/debug/EmbedACME" swift test --skip-build --filter EmbedACMETests

# DNS fault injection against the debug build: storms, idle and slow TCP
# clients, a spoofed flood under rate limiting (about a minute; figures printed).
Scripts/faults.sh

# Fault injection on the API and the store, with figures (issue 15).
Scripts/faults-api.sh
