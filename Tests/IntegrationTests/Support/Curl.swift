import Foundation

/// curl, the HTTP client the tests drive the API with.
enum Curl {
    struct Response: CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "\(status) \(body)" }
    }

    /// Runs curl and splits off the status line it is told to append.
    static func request(_ arguments: [String], timeout: Double = 30) throws -> Response {
        let curl = try Programs.require("curl")
        let result = try ManagedProcess.run(curl, ["-sS", "--max-time", "\(Int(timeout))", "-w", "\n%{http_code}"] + arguments, timeout: timeout + 5)
        let text = result.output.hasSuffix("\n") ? String(result.output.dropLast()) : result.output
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw TestSetupError("curl \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return Response(status: status, body: String(text[..<newline]))
    }

    static func get(_ url: String, caFile: String? = nil) throws -> Response {
        try request((caFile.map { ["--cacert", $0] } ?? []) + [url])
    }

    static func post(_ url: String, json: String, headers: [String] = []) throws -> Response {
        try request(["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", json] + headers.flatMap { ["-H", $0] } + [url])
    }

    /// Waits until `url` answers 200.
    static func waitFor(_ url: String, process: ManagedProcess, caFile: String? = nil, timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning { throw TestSetupError("\(process.name) exited:\n\(process.output)") }
            if (try? request(["--max-time", "1"] + (caFile.map { ["--cacert", $0] } ?? []) + [url], timeout: 2).status) == 200 { return }
            usleep(100_000)
        }
        throw TestSetupError("\(url) did not answer within \(timeout)s:\n\(process.output)")
    }
}

/// curl requests in a loop for a while, on a thread of its own, while the
/// test does something else.
final class RequestLoad: @unchecked Sendable {
    // @unchecked: the counts are written by the load thread before `finished`
    // is signalled and read only after.
    private let finished = DispatchSemaphore(value: 0)
    private var ok = 0
    private var failed: [String] = []

    init(_ arguments: [String], seconds: Double) {
        let thread = Thread { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                let response = try? Curl.request(arguments)
                if response?.status == 200 { ok += 1 } else { failed.append(response?.description ?? "curl error") }
            }
            finished.signal()
        }
        thread.start()
    }

    /// Waits for the loop to end: requests answered 200, and the others.
    /// It blocks: the suites that use it run `.blocking`.
    func result() -> (ok: Int, failed: [String]) {
        finished.wait()
        return (ok, failed)
    }
}
