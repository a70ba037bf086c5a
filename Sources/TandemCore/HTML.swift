/// Text escaped for HTML, as MarkupSafe's `escape` does it (`&`, `<`, `>`, `"` as `&#34;`, `'`
/// as `&#39;`): the Jinja `escape` filter must match jinja2 byte for byte, and the gateway's
/// `/status` page escapes every value it shows the same way.
public func htmlEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&#34;")
        .replacingOccurrences(of: "'", with: "&#39;")
}
