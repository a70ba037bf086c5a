import Foundation

/// A validated upstream base URL (`http(s)://host[:port][/base/path]`), joined with API paths.
public struct UpstreamURL: Sendable, Equatable {
    public var base: String

    public init?(_ string: String) {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty,
              url.query == nil, url.fragment == nil else { return nil }
        var base = string
        while base.hasSuffix("/") { base.removeLast() }
        // A base that already ends in /v1 is accepted: the API paths are appended without it.
        if base.hasSuffix("/v1") { base.removeLast(3) }
        self.base = base
    }

    /// `base` + `path` (path starts with `/`).
    public func appending(_ path: String) -> String { base + path }
}
