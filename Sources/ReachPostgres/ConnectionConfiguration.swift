/// How to reach a PostgreSQL server: a URL or key/value connection string, with overrides.
///
/// libpq parses the string itself (`PQconnectdbParams` with `expand_dbname`), so every form and
/// keyword libpq accepts works here:
///
/// ```swift
/// let byURL = ConnectionConfiguration("postgresql://reach@localhost:5432/reach")
/// let byKeys = ConnectionConfiguration("host=/var/lib/reach/postgres dbname=reach user=reach")
/// let other = byURL.overriding(["dbname": "reach_test"])
/// ```
public struct ConnectionConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The URL or `key=value` string.
    public var connectionString: String
    /// Keywords that override what the string says, applied in order.
    public var overrides: [KeyValuePairs]

    /// One keyword and its value.
    public struct KeyValuePairs: Sendable, Hashable {
        public var key: String
        public var value: String
    }

    public init(_ connectionString: String, overrides: [String: String] = [:]) {
        self.connectionString = connectionString
        self.overrides = overrides.sorted { $0.key < $1.key }.map { KeyValuePairs(key: $0.key, value: $0.value) }
    }

    /// A copy with more keywords overridden (`dbname`, `user`, `application_name`...).
    public func overriding(_ values: [String: String]) -> ConnectionConfiguration {
        var copy = self
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            copy.overrides.removeAll { $0.key == key }
            copy.overrides.append(KeyValuePairs(key: key, value: value))
        }
        return copy
    }

    /// The keyword and value lists for `PQconnectdbParams`; `dbname` comes first so that
    /// libpq expands the connection string, and later keywords override it.
    var keywordsAndValues: [(String, String)] {
        [("dbname", connectionString)] + overrides.map { ($0.key, $0.value) }
    }

    /// The string without any password, for messages and logs.
    public var description: String {
        var text = connectionString
        if let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].firstIndex(of: "@") {
            let userInfo = text[schemeEnd.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                text.replaceSubrange(colon..<at, with: ":***")
            }
        }
        if let range = text.range(of: "password=") {
            let end = text[range.upperBound...].firstIndex(of: " ") ?? text.endIndex
            text.replaceSubrange(range.upperBound..<end, with: "***")
        }
        let shown = overrides.filter { $0.key != "password" }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        if shown.isEmpty { return text }
        return text.isEmpty ? shown : text + " (" + shown + ")"
    }
}
