#!/usr/bin/env bash
# Queries per second of cdnsd (release build) and knotd on one core, over UDP
# and TCP, with the ratio: the one-core part of Benchmarks/dns-throughput.sh
# (which also runs 2 and all cores, memory, start-up and allocations).
#
#   Scripts/bench-dns.sh [SECONDS]        (default 20 per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=throughput exec Benchmarks/dns-throughput.sh "${1:-20}" 1 1
