import Foundation

/// How the daemon keeps its footprint small: glibc's allocator settings,
/// and a Foundation default that spares it ICU's time zone tables.
///
/// Arenas, measured with 100,000 records (Benchmarks/store-scale.sh): glibc gives
/// each thread that allocates under contention its own arena, and what the
/// start-up frees (parsed rows and configuration, a first start's change
/// set) stays spread over them: RSS 158 MB, 130 MB with one arena. The
/// per-thread caches in front of the arena keep small allocations
/// lock-free, and the query path allocates next to nothing anyway.
public enum MemoryTuning {
    /// Call first thing in `main`, before other threads allocate.
    public static func limitArenas() {
        #if canImport(Glibc)
        _ = glibcMallopt(mallocArenaMax, 1)
        #endif
    }

    /// Makes UTC Foundation's default time zone. What cdnsd formats through
    /// Foundation is UTC anyway (JSON log timestamps, the API's times, the
    /// HTTP `Date` header), but the first `Calendar` made (Hummingbird's
    /// date cache) would otherwise resolve the host's zone through ICU,
    /// which leaves about 1 MB of ICU's time zone tables resident. Text log
    /// lines are stamped by libc and keep the local time. Call first thing
    /// in `main`.
    public static func useUTCTimeZone() {
        // Not `.gmt` itself: as the default it left 1.2 MB more resident
        // (16.5 against 17.6-18.0 MB in Benchmarks/dns-throughput.sh).
        NSTimeZone.default = TimeZone(secondsFromGMT: 0) ?? .gmt
    }

    /// Hands freed heap pages back to the system (after loading the store).
    public static func returnFreedMemory() {
        #if canImport(Glibc)
        _ = glibcMallocTrim(0)
        #endif
    }

    #if canImport(Glibc)
    /// `M_ARENA_MAX` of malloc.h.
    private static let mallocArenaMax: Int32 = -8
    #endif
}

#if canImport(Glibc)
// malloc.h's functions, which the Glibc module leaves out.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
