import CLibPQ
import Synchronization

/// Counts the `PGresult`s a connection holds, so tests can prove each is freed exactly once.
final class ResultTracker: Sendable {
    private let live = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    func retained() {
        live.add(1, ordering: .relaxed)
        total.add(1, ordering: .relaxed)
    }
    func released() { live.subtract(1, ordering: .relaxed) }
    var liveCount: Int { live.load(ordering: .relaxed) }
    var totalCount: Int { total.load(ordering: .relaxed) }
}

/// The result of one statement. It owns its `PGresult` and frees it, exactly once, when it goes
/// out of scope; it cannot be copied, so no second owner can free it again. Values are copied
/// into Swift types as they are read, so nothing points into the result after it is gone.
public struct QueryResult: ~Copyable {
    let handle: OpaquePointer
    private let tracker: ResultTracker

    init(handle: OpaquePointer, tracker: ResultTracker) {
        self.handle = handle
        self.tracker = tracker
        tracker.retained()
    }

    deinit {
        PQclear(handle)
        tracker.released()
    }

    /// The number of rows returned.
    public var rowCount: Int { Int(PQntuples(handle)) }
    /// The number of columns returned.
    public var columnCount: Int { Int(PQnfields(handle)) }
    /// The rows a command affected (`INSERT`, `UPDATE`, `COPY`...), or 0.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// The name of a column.
    public func columnName(_ column: Int) -> String { String(cString: PQfname(handle, Int32(column))) }

    /// Whether a cell is SQL `NULL`.
    public func isNull(row: Int, column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) == 1 }

    /// Decodes a non-null cell.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, row: Int, column: Int) throws -> T {
        guard let value = try decodeIfPresent(type, row: row, column: column) else {
            throw PostgresError(code: .decoding, message: "column \(columnName(column)) of row \(row) is NULL, expected \(T.self)")
        }
        return value
    }

    /// Decodes a cell that may be `NULL`.
    public func decodeIfPresent<T: PostgresDecodable>(_ type: T.Type = T.self, row: Int, column: Int) throws -> T? {
        guard row < rowCount else {
            throw PostgresError(code: .decoding, message: "no row \(row)")
        }
        return try Self.decodeCell(handle, row: row, column: column)
    }

    /// Decodes one cell, copying it into a Swift value before returning.
    static func decodeCell<T: PostgresDecodable>(_ result: OpaquePointer, row: Int, column: Int) throws -> T? {
        let r = Int32(row)
        let c = Int32(column)
        guard column < Int(PQnfields(result)) else {
            throw PostgresError(code: .decoding, message: "no column \(column)")
        }
        if PQgetisnull(result, r, c) == 1 { return nil }
        let length = Int(PQgetlength(result, r, c))
        let pointer = UnsafeRawPointer(PQgetvalue(result, r, c)!).assumingMemoryBound(to: UInt8.self)
        return try T(postgresText: UnsafeBufferPointer(start: pointer, count: length))
    }

    /// Maps every row through `transform`, which reads cells by column index.
    ///
    /// ```swift
    /// let names = try result.mapRows { row in try row.decode(0, as: String.self) }
    /// ```
    public func mapRows<T>(_ transform: (borrowing Row) throws -> T) throws -> [T] {
        var out = [T]()
        out.reserveCapacity(rowCount)
        for index in 0..<rowCount {
            let row = Row(result: handle, index: index)
            out.append(try transform(row))
        }
        return out
    }

    /// One row of a result, valid only inside the closure given to ``QueryResult/mapRows(_:)``.
    public struct Row: ~Copyable {
        let result: OpaquePointer
        /// The row's index in its result.
        public let index: Int

        /// Decodes a non-null cell of this row.
        public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
            guard let value = try decodeIfPresent(column, as: type) else {
                throw PostgresError(code: .decoding, message: "column \(String(cString: PQfname(result, Int32(column)))) is NULL, expected \(T.self)")
            }
            return value
        }

        /// Decodes a cell of this row that may be `NULL`.
        public func decodeIfPresent<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T? {
            try QueryResult.decodeCell(result, row: index, column: column)
        }
    }
}
