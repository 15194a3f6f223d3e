#!/usr/bin/env bash
# Fuzzes the DNSWire decoder with libFuzzer for SECONDS (default 60).
#
# Builds Fuzz/ with the fuzzer and address sanitizers (both flags are needed:
# see ../shared/SWIFT-NOTES.md), seeds the corpus with the captured test
# vectors, and runs. Crashing inputs are written to Fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

swift build --package-path Fuzz -c debug --scratch-path .build-fuzz \
    --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address --product FuzzDNSWire

corpus=Fuzz/corpus
mkdir -p "$corpus" Fuzz/artifacts
for vector in Tests/DNSWireTests/Vectors/*.hex; do
    grep -v '^#' "$vector" | xxd -r -p > "$corpus/seed-$(basename "$vector" .hex)"
done

log=.build-fuzz/last-run.log
set +e
.build-fuzz/debug/FuzzDNSWire -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=Fuzz/artifacts/ "$corpus" > "$log" 2>&1
status=$?
set -e
grep -E '^(#[0-9]+ +(INITED|DONE)|Done [0-9]+ runs|stat::(number_of_executed_units|peak_rss_mb|new_units_added))' "$log" || true
if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: the fuzzer failed (exit $status); the end of $log:"
    tail -40 "$log"
fi
exit "$status"
