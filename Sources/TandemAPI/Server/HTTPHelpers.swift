import TandemCore
import Foundation
import HTTPTypes
import Hummingbird

extension APIError {
    /// The HTTP response for this error.
    public func response(requestID: String?, extraHeaders: [(String, String)] = []) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let requestID { headers[.requestID] = requestID }
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        for (name, value) in self.headers.sorted(by: { $0.key < $1.key }) + extraHeaders {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        return Response(status: HTTPResponse.Status(code: status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(body))))
    }
}

/// A JSON response.
func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers: HTTPFields = [.contentType: "application/json"]
    headers.append(contentsOf: extra)
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(value))))
}

/// Random identifiers for requests and responses.
enum RequestIdentifier {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    static func make(length: Int = 24) -> String {
        var g = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(g.next(upperBound: UInt64(alphabet.count)))] })
    }
}

/// Seconds since 1970 for the `created` fields.
func unixTimeNow() -> Int64 {
    Int64(Date().timeIntervalSince1970)
}
