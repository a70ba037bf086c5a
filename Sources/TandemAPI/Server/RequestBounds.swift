import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Bounds on what a client controls before the body is parsed: header sizes, the content type,
/// the JSON nesting depth. Each refusal names what was over.
///
/// | what | bound | answer |
/// | --- | --- | --- |
/// | header fields | 100 | 400, `param` "headers" |
/// | one header value | 8 KiB | 400, `param` the header's name |
/// | `Content-Type` | `application/json` (any parameters) or `application/*+json`; absent: taken as JSON | 415 |
/// | JSON nesting (objects and arrays) | 32 levels | 400, `param` "body" |
///
/// Field-level bounds (messages, stop strings, …) are `RequestValidator`'s.
public enum RequestBounds {
    public static let maxHeaderFields = 100
    public static let maxHeaderValueBytes = 8 << 10
    public static let maxNestingDepth = 32

    public static func checkHeaders(_ headers: HTTPFields) throws(APIError) {
        guard headers.count <= maxHeaderFields else {
            throw .invalidField("headers", "The request has \(headers.count) header fields; at most \(maxHeaderFields) are accepted.",
                                code: "header_too_large")
        }
        for field in headers where field.value.utf8.count > maxHeaderValueBytes {
            throw .invalidField(field.name.canonicalName,
                                "Header '\(field.name.canonicalName)' is \(field.value.utf8.count) bytes; at most \(maxHeaderValueBytes) are accepted.",
                                code: "header_too_large")
        }
    }

    /// JSON, or no `Content-Type` at all (taken as JSON; the body must still parse).
    public static func checkContentType(_ value: String?) throws(APIError) {
        guard let value else { return }
        let media = (value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: .whitespaces).lowercased()
        if media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) { return }
        throw .unsupportedMediaType(value)
    }

    /// Refuses JSON nested deeper than `maxDepth` (before it is parsed, so parsing never recurses
    /// deeper). Brackets inside strings do not count.
    public static func checkNesting(_ bytes: some Collection<UInt8>, maxDepth: Int = maxNestingDepth) throws(APIError) {
        var depth = 0
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false }
                else if b == UInt8(ascii: "\\") { escaped = true }
                else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxDepth {
                    throw .invalidField("body", "The JSON body is nested more than \(maxDepth) levels deep.", code: "nesting_too_deep")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
    }

    /// Whether `host` is a loopback address or name (`127.0.0.0/8`, `::1`, `localhost`).
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }
}

/// Reads a request body up to the server's limit. A larger body is still read (and dropped) up to
/// `ServerLimits.drainBytes` and `drainTime`, so that a client that writes its whole body before
/// reading receives the 413 instead of a reset connection; past that the connection is closed.
enum BodyReader {
    /// The body was over the limit: the error to answer with, and whether to close the connection
    /// (the rest of the body was not read).
    struct TooLarge: Error {
        var error: APIError
        var close: Bool
    }

    static func read(_ request: Request, limits: ServerLimits) async throws -> ByteBuffer {
        let limit = limits.maxBodyBytes
        let tooLarge = APIError.bodyTooLarge(limit: limit)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw TooLarge(error: tooLarge, close: !(await drain(request, limits: limits, declared: length)))
        }
        var collected = ByteBuffer()
        var total = 0
        var iterator = request.body.makeAsyncIterator()
        while let part = try await iterator.next() {
            total += part.readableBytes
            if total > limit {
                let drained = await drain(&iterator, limits: limits, already: total)
                throw TooLarge(error: tooLarge, close: !drained)
            }
            collected.writeImmutableBuffer(part)
        }
        return collected
    }

    /// Reads and drops the whole body within the bounds; false when it stopped before the end.
    static func drain(_ request: Request, limits: ServerLimits, declared: Int? = nil) async -> Bool {
        if let declared, declared > limits.drainBytes { return false }
        var iterator = request.body.makeAsyncIterator()
        return await drain(&iterator, limits: limits, already: 0)
    }

    private static func drain(_ iterator: inout RequestBody.AsyncIterator, limits: ServerLimits, already: Int) async -> Bool {
        var total = already
        let deadline = ContinuousClock.now + limits.drainTime
        do {
            while let part = try await iterator.next() {
                total += part.readableBytes
                if total > limits.drainBytes || ContinuousClock.now > deadline { return false }
            }
            return true
        } catch {
            return false
        }
    }
}
