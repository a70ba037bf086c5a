import Foundation
import TandemCore

/// The gateway's usage records: one JSON object per finished request, one per line, appended to
/// the configuration's `usage_log` (an operator ships the file anywhere: a billing job, a log
/// pipeline). The file is opened for appending at start and again on every reload, so a rotated
/// file is replaced by a new one.
public final class UsageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var handle: FileHandle?

    public init() {}

    /// Appends to `path` from now on (nil: records nothing). Throws when it cannot be opened,
    /// leaving the previous file in use.
    public func open(path: String?) throws(UsageLogError) {
        var next: FileHandle?
        if let path {
            if !FileManager.default.fileExists(atPath: path),
               !FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) {
                throw UsageLogError(message: "usage_log \(path): cannot create the file")
            }
            guard let h = FileHandle(forWritingAtPath: path) else {
                throw UsageLogError(message: "usage_log \(path): cannot open the file for appending")
            }
            h.seekToEndOfFile()
            next = h
        }
        lock.lock()
        let old = handle
        handle = next
        lock.unlock()
        try? old?.close()
    }

    /// One record, written as a single line (whole lines: appends are serialised).
    public func append(_ record: JSONValue) {
        lock.lock()
        defer { lock.unlock() }
        handle?.write(Data((JSONWriter.string(record) + "\n").utf8))
    }
}

public struct UsageLogError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
