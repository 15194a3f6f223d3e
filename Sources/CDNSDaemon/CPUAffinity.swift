import Foundation
import NIOCore

/// How many CPUs this process may run on: NIO's `System.coreCount` reads
/// cgroup limits but not the affinity mask, so under `taskset -c 0` it would
/// start two event loops that fight over one core.
enum CPUAffinity {
    static var usableCPUs: Int {
        min(allowedByAffinity ?? System.coreCount, System.coreCount)
    }

    /// Bits set in `Cpus_allowed` of /proc/self/status (Linux), if readable.
    static var allowedByAffinity: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else { return nil }
        let mask = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
        let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
        return count > 0 ? count : nil
    }
}
