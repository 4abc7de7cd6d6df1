import CLibPQ
import Foundation

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
    /// How long a call may wait for the server's answer before the connection is given up
    /// (see ``Connection``); nil: as long as it takes. It also bounds connecting
    /// (libpq's `connect_timeout`), unless the settings name their own.
    public var answerTimeout: Duration?

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

    /// A copy whose calls wait at most `timeout` for the server's answer.
    public func answering(within timeout: Duration?) -> ConnectionConfiguration {
        var copy = self
        copy.answerTimeout = timeout
        return copy
    }

    /// The keyword and value lists for `PQconnectdbParams`; `dbname` comes first so that
    /// libpq expands the connection string, and later keywords override it.
    var keywordsAndValues: [(String, String)] {
        var pairs = [("dbname", connectionString)] + overrides.map { ($0.key, $0.value) }
        if let answerTimeout, !overrides.contains(where: { $0.key == "connect_timeout" }), !connectionString.contains("connect_timeout"),
            ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"] == nil
        {
            // Whole seconds, at least 2 (libpq's own minimum), for each server the settings name.
            pairs.append(("connect_timeout", String(max(2, Int(answerTimeout.components.seconds)))))
        }
        return pairs
    }

    /// The settings without any password, for messages and logs: the string as libpq itself
    /// reads it (`PQconninfoParse`, so every spelling libpq accepts, quoted values and
    /// percent-encoded URLs included, is understood), then the overrides.
    public var description: String {
        var shown: [String] = []
        var error: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &error) {
            defer { PQconninfoFree(options) }
            var option = options
            while let keyword = option.pointee.keyword {
                if let value = option.pointee.val, value.pointee != 0 {
                    let key = String(cString: keyword)
                    shown.append("\(key)=\(Self.isSecret(key) ? "***" : String(cString: value))")
                }
                option += 1
            }
        } else {
            if let error { PQfreemem(error) }
            shown.append("(a connection string libpq cannot read, not shown)")
        }
        shown += overrides.map { "\($0.key)=\(Self.isSecret($0.key) ? "***" : $0.value)" }
        return shown.joined(separator: " ")
    }

    /// Every setting as libpq reads it (the connection string expanded, then the overrides),
    /// for a PostgreSQL program run as a process of its own (`pg_dump`, `pg_restore`): its
    /// connection string without the password (`keywords`), and the password, if any, to hand
    /// over in the environment (`PGPASSWORD`) rather than on a command line others can read.
    public var forProgram: (keywords: String, password: String?) {
        var settings: [(String, String)] = []
        var error: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &error) {
            defer { PQconninfoFree(options) }
            var option = options
            while let keyword = option.pointee.keyword {
                if let value = option.pointee.val, value.pointee != 0 { settings.append((String(cString: keyword), String(cString: value))) }
                option += 1
            }
        } else if let error {
            PQfreemem(error)
        }
        for override in overrides {
            settings.removeAll { $0.0 == override.key }
            settings.append((override.key, override.value))
        }
        let password = settings.first { $0.0 == "password" }?.1
        let quoted = settings.filter { $0.0 != "password" }.map { key, value in
            "\(key)='" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return (quoted.joined(separator: " "), password)
    }

    /// Keywords whose values are secrets.
    static func isSecret(_ keyword: String) -> Bool {
        ["password", "sslpassword", "passfile", "sslkey"].contains(keyword)
    }
}
