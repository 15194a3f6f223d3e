#!/usr/bin/env bash
# Builds the cdnsd binary as it ships (Examples/Containerfile; Benchmarks/dns-throughput.sh
# measures this build):
#
#   Scripts/build-release.sh [swift build options, e.g. --scratch-path DIR]
#
# Prints the binary's path on its last line. A release build with the Swift runtime linked
# statically (--static-swift-stdlib: the runtime image needs no Swift), laid out so that a
# running daemon maps little of its 31 MB of code (Docs/performance.md, "Memory"):
# - every function in a section of its own (-function-sections for Swift, -ffunction-sections
#   for C and C++), linked by lld in the order of Scripts/cdnsd.order: the functions a running
#   daemon executes (start-up, DNS over UDP and TCP, the API, shutdown; recorded by
#   Scripts/update-symbol-order.sh) sit together instead of among code it never runs;
# - Scripts/cdnsd-unnamed.ld puts the compiler's unnamed functions, which the order cannot
#   name, together right before them;
# - relative relocations packed (-z pack-relative-relocs, needs glibc 2.36 as in Debian 12):
#   start-up reads 27 kB of relocations instead of 3.4 MB;
# - the executable's own symbols are not exported (--no-export-dynamic): nothing loads a
#   library that links back into cdnsd, and ld.so no longer searches 60,000 of them;
# - libstdc++ (used by the Swift runtime, ICU and TOMLKit) linked statically: the functions
#   cdnsd calls join the ordered code, instead of ld.so mapping, relocating and searching the
#   whole shared library (1.3 MB less idle RSS). It is found through .build-link/, a folder
#   searched before the compiler's own that holds only libstdc++.a.
# An order that no longer matches the sources only costs memory: names it lists that are gone
# are skipped, new functions land among the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts="$PWD/Scripts"
swift_bin="$(dirname "$(readlink -f "$(command -v swift)")")"
libstdcxx="$("$swift_bin/clang" -print-file-name=libstdc++.a)"
if [ "$libstdcxx" = "libstdc++.a" ]; then
    echo "build-release.sh: no libstdc++.a for the toolchain's clang; install libstdc++-12-dev" >&2
    exit 1
fi
mkdir -p .build-link
ln -sfn "$libstdcxx" .build-link/libstdc++.a
flags=(-c release --product cdnsd --static-swift-stdlib
    -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections -Xcxx -ffunction-sections
    -Xswiftc -use-ld=lld
    -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
    -Xlinker "--symbol-ordering-file=$scripts/cdnsd.order" -Xlinker --no-warn-symbol-ordering
    -Xlinker "$scripts/cdnsd-unnamed.ld"
    -Xswiftc -Xclang-linker -Xswiftc "-L$PWD/.build-link"
    "$@")
binary="$(swift build "${flags[@]}" --show-bin-path)/cdnsd"
# SwiftPM does not know the linker reads the order: link again each time (seconds).
rm -f "$binary"
swift build "${flags[@]}" >&2
echo "$binary"
