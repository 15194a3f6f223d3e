import Foundation

import Glibc

/// Replaces a file in one step: the bytes go to a new file beside it,
/// created with exactly `mode` (whatever the umask), flushed to disk, then
/// renamed over the target, and the directory flushed. A reader sees the
/// old file or the new one, never a mix; a crash leaves one of the two.
/// A replaced file keeps its owner and group where this process may set them.
enum AtomicFile {
    struct WriteError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
    }

    static func write(_ data: Data, to path: String, mode: Int) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let staging = "\(directory)/.\(URL(fileURLWithPath: path).lastPathComponent).\(UUID().uuidString.prefix(8)).new"
        let descriptor = open(staging, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode & 0o7777))
        guard descriptor >= 0 else { throw failure(staging, "cannot create") }
        var closed = false
        defer {
            if !closed { close(descriptor) }
        }
        do {
            guard fchmod(descriptor, mode_t(mode & 0o7777)) == 0 else { throw failure(staging, "cannot set mode \(String(mode, radix: 8))") }
            var existing = stat()
            if stat(path, &existing) == 0 { _ = fchown(descriptor, existing.st_uid, existing.st_gid) }
            try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                guard let base = bytes.baseAddress else { return }
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw failure(staging, "cannot write")
                    }
                    offset += written
                }
            }
            guard fsync(descriptor) == 0 else { throw failure(staging, "cannot flush") }
            closed = true
            guard close(descriptor) == 0 else { throw failure(staging, "cannot close") }
            guard rename(staging, path) == 0 else { throw failure(path, "cannot replace") }
        } catch {
            unlink(staging)
            throw error
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    static func write(_ text: String, to path: String, mode: Int) throws {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    private static func failure(_ path: String, _ what: String) -> WriteError {
        WriteError(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
}
