#!/usr/bin/env bash
# Benchmarks the DNSWire codec (release build): ns, instructions and
# allocations per operation for decoding a query, encoding a 3-RR response,
# and both together (package-benchmark, MallocInterposer trait).
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"
swift package --allow-writing-to-package-directory benchmark --target DNSWireCodec --format text "$@"
