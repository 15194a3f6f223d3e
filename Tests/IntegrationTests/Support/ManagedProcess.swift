import Foundation

/// A program started by a test: output goes to files, and `stop()` ends it
/// by PID (TERM, then KILL), so nothing outlives the test.
final class ManagedProcess: @unchecked Sendable {
    // @unchecked: the Process is touched only by the test that owns it.
    let process = Process()
    let name: String
    let outputPath: String

    /// What every `cdnsd` a test starts gets unless the test says otherwise:
    /// background threads at nice 0. Tests run side by side on a shared
    /// machine, where a nice-19 thread (a bcrypt check, a zone reload) next to
    /// two busy cores gets about 1.5 % of one and a few-second wait fails;
    /// `DaemonTests.backgroundNice` checks the real default.
    static let cdnsdDefaults = ["CDNS_DNS_BACKGROUND_NICE": "0"]

    /// Starts `executable`; `cdnsd` gets ``cdnsdDefaults`` under `environment`
    /// unless `harnessDefaults` is false.
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], harnessDefaults: Bool = true, directory: TemporaryDirectory) throws {
        name = URL(fileURLWithPath: executable).lastPathComponent
        outputPath = directory.url.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(4)).log").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // The harness's own CDNS_* variables (CDNS_REQUIRE_INTEGRATION, CDNS_TEST_*…)
        // are not the program's configuration: cdnsd refuses unknown ones.
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CDNS_") }.merging(environment) { $1 }
        if harnessDefaults && executable == Programs.cdnsd {
            process.environment = process.environment?.merging(Self.cdnsdDefaults) { program, _ in program }
        }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Sends TERM and waits up to `grace` seconds, then KILL. Returns the exit status.
    @discardableResult
    func stop(grace: Double = 5) -> Int32 {
        if process.isRunning {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(pid, SIGKILL) }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs a program to completion and returns its status and output.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 30) throws -> (status: Int32, output: String) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let process = try ManagedProcess(executable, arguments, environment: environment, directory: directory)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        let status = process.stop(grace: 1)
        return (status, process.output)
    }
}
