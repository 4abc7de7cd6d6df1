import CLibPQ

/// An error from PostgreSQL or from libpq.
///
/// Modelled as a struct with an extensible ``Code`` rather than an enum, so new kinds can be
/// added without breaking callers. The server's SQLSTATE is kept in a typed field.
///
/// The ``description`` leaks no data: it names the kind, the SQLSTATE and the server's message,
/// but never the detail, the hint, the query or its parameters, and for an integrity violation
/// (SQLSTATE class 23, whose message and detail hold the offending key's value, such as
/// `Key (la_id)=(...) already exists`) only the kind of violation and the constraint's name.
/// ``debugDescription`` has everything, for debug-level logs.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, broadly.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let base: String
        /// The connection could not be made or was lost.
        public static let connection = Code(base: "connection")
        /// The server did not answer within the connection's answer timeout (it may be hung),
        /// and the connection was given up.
        public static let noAnswer = Code(base: "no answer")
        /// The server refused a statement; ``PostgresError/sqlState`` says why.
        public static let server = Code(base: "server")
        /// A value could not be decoded into the requested Swift type.
        public static let decoding = Code(base: "decoding")
        /// libpq reported a client-side failure (sending, COPY, pipeline).
        public static let client = Code(base: "client")
        public var description: String { base }
    }

    /// The kind of failure.
    public var code: Code
    /// The five-character SQLSTATE the server sent, if any (for example `23505`).
    public var sqlState: String?
    /// The server's (or libpq's) primary message.
    public var message: String
    /// The server's detail line, if any.
    public var detail: String?
    /// The server's hint, if any.
    public var hint: String?
    /// The statement that failed. Kept for debugging; not part of ``description``.
    public var query: String?
    /// The constraint the statement violated, if the server named one.
    public var constraint: String?
    /// Where in this package the error was raised.
    public var file: String
    public var line: Int

    public init(
        code: Code, sqlState: String? = nil, message: String, detail: String? = nil,
        hint: String? = nil, query: String? = nil, constraint: String? = nil, file: String = #fileID, line: Int = #line
    ) {
        self.constraint = constraint
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.query = query
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = "PostgresError(\(code)"
        if let sqlState { text += ", SQLSTATE \(sqlState)" }
        text += "): "
        if let sqlState, sqlState.hasPrefix("23") {
            text += Self.integrityViolations[sqlState] ?? "an integrity constraint was violated"
            if let constraint { text += " (constraint \(constraint))" }
        } else if let sqlState, sqlState.hasPrefix("53"), let reason = operatorReason {
            // Insufficient resources: the server's state, in words an operator acts on.
            text += reason
        } else {
            text += message
        }
        return text
    }

    /// Whether the database could not be reached, was lost, or did not answer in time: the
    /// server's state, not the request's, and worth trying again (a connection refused or
    /// ended, SQLSTATE classes 08 and 57P, a standby's recovery conflict, no connection to
    /// spare).
    public var meansUnavailable: Bool {
        if code == .connection || code == .noAnswer { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState == "53300" || sqlState == "40001" && message.contains("recovery")
    }

    /// What an operator can act on, in words, for the failures that are the server's state
    /// rather than the request's: nil for the others.
    public var operatorReason: String? {
        switch sqlState {
        case "53100": return "the database server is out of disk space (\(message))"
        case "53200": return "the database server is out of memory"
        case "53300": return "the database server has no connection to spare"
        case "57014": return "a statement took longer than it may"
        default: break
        }
        if code == .noAnswer { return "the database did not answer in time" }
        if meansUnavailable { return "the database could not be reached" }
        return nil
    }

    /// Everything known, detail, hint and query included: for debug-level logs only, since the
    /// detail may hold values of the rows involved.
    public var debugDescription: String {
        var text = "PostgresError(\(code)"
        if let sqlState { text += ", SQLSTATE \(sqlState)" }
        text += "): \(message)"
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        if let constraint { text += "; constraint: \(constraint)" }
        if let query { text += "; query: \(query)" }
        text += "; at \(file):\(line)"
        return text
    }

    /// Words for the integrity violations, which say what kind of rule was broken without the
    /// values that broke it.
    static let integrityViolations: [String: String] = [
        "23505": "a unique constraint was violated",
        "23503": "a foreign key constraint was violated",
        "23502": "a NOT NULL constraint was violated",
        "23514": "a check constraint was violated",
        "23P01": "an exclusion constraint was violated",
    ]

    /// Well-known SQLSTATEs used by callers of this package.
    public enum SQLState {
        public static let uniqueViolation = "23505"
        public static let insufficientPrivilege = "42501"
        public static let serializationFailure = "40001"
        public static let deadlockDetected = "40P01"
        public static let raiseException = "P0001"
    }

    /// Builds an error from a failed result, copying every field into Swift strings before the
    /// result is cleared.
    static func fromResult(_ result: OpaquePointer, query: String?, file: String = #fileID, line: Int = #line) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let primary = field(Int32(UInt8(ascii: "M"))) ?? String(cString: PQresultErrorMessage(result))
        return PostgresError(
            code: .server,
            sqlState: field(Int32(UInt8(ascii: "C"))),
            message: primary.trimmingTrailingNewlines(),
            detail: field(Int32(UInt8(ascii: "D"))),
            hint: field(Int32(UInt8(ascii: "H"))),
            query: query, constraint: field(Int32(UInt8(ascii: "n"))), file: file, line: line
        )
    }

    /// Builds an error from the connection's last libpq message.
    static func fromConnection(_ conn: OpaquePointer?, code: Code, query: String? = nil, file: String = #fileID, line: Int = #line) -> PostgresError {
        let text = conn.flatMap { PQerrorMessage($0) }.map { String(cString: $0) } ?? "unknown libpq error"
        return PostgresError(code: code, message: text.trimmingTrailingNewlines(), query: query, file: file, line: line)
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return text
    }
}
