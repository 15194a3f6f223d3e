#!/usr/bin/env bash
# DNS fault injection against a cdnsd binary: malformed-packet storm with a
# legitimate client measuring, 10,000 and 2,000 idle TCP connections, slowloris
# on TCP, and a spoofed-source flood under response rate limiting. Each case
# prints its figures and passes or fails on generous limits; see
# Scripts/faults.py and Docs/limits.md.
#
#   Scripts/faults.sh [--case storm|idle10k|idle2k|slowloris|rrl ...]
#
# Uses $CDNSD_BIN, else the debug build (Scripts/test.sh builds it first).
# Needs python3 and dig; raises the open-file limit for the 10,000 clients.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CDNSD_BIN:-.build/debug/cdnsd}"
[ -x "$bin" ] || { echo "faults.sh: no cdnsd binary at $bin (swift build first, or set CDNSD_BIN)" >&2; exit 1; }
hard=$(ulimit -Hn)
want=25000
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want"
exec python3 Scripts/faults.py --cdnsd "$bin" "$@"
