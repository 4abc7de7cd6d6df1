import CLibPQ
import Foundation
import Logging

/// A notification received on a channel the connection listens on.
public struct PostgresNotification: Sendable, Hashable {
    public var channel: String
    public var payload: String
    public var senderPID: Int32
}

/// One statement of a pipeline.
public struct PipelineStatement: Sendable {
    public var sql: String
    public var binds: [PostgresBind]
    public init(_ sql: String, _ parameters: [any PostgresEncodable] = []) {
        self.sql = sql
        self.binds = parameters.map(\.postgresBind)
    }
}

/// One connection to PostgreSQL, used synchronously from a single thread.
///
/// Every call blocks its thread until the server answers, so a `Connection` is never used
/// directly from Swift's cooperative thread pool: ``PostgresConnection`` gives each one a
/// dedicated thread, and ``PostgresClient`` pools those.
///
/// ```swift
/// let connection = try Connection(configuration: .init("dbname=reach"))
/// let result = try connection.query("SELECT $1::int8 + 1", [41])
/// let answer = try result.decode(Int.self, row: 0, column: 0)   // 42
/// ```
public final class Connection {
    let handle: OpaquePointer
    let tracker = ResultTracker()
    private let noticeSink: Unmanaged<NoticeSink>
    private var preparedStatements: [String: String] = [:]
    /// The logger that receives the server's notices and warnings.
    public let logger: Logger
    /// The configuration the connection was opened with.
    public let configuration: ConnectionConfiguration
    /// How long a call waits for the server's answer (``ConnectionConfiguration/answerTimeout``).
    var answerTimeout: Duration? { configuration.answerTimeout }
    /// Calls in progress on this connection (a call may make another), and whether one
    /// outlived its deadline, after which the connection is given up.
    private var callDepth = 0
    private var gaveUp = false

    /// Connects, throwing a ``PostgresError`` with code `.connection` if the server cannot be reached.
    public init(configuration: ConnectionConfiguration, logger: Logger = Logger(label: "reach.postgres")) throws {
        let pairs = configuration.keywordsAndValues
        let keys = pairs.map { strdup($0.0) }
        let values = pairs.map { strdup($0.1) }
        defer {
            for key in keys { free(key) }
            for value in values { free(value) }
        }
        let keyPointers: [UnsafePointer<CChar>?] = keys.map { UnsafePointer($0) } + [nil]
        let valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        guard let conn = PQconnectdbParams(keyPointers, valuePointers, 1) else {
            throw PostgresError(code: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let error = PostgresError.fromConnection(conn, code: .connection)
            PQfinish(conn)
            throw error
        }
        self.handle = conn
        self.logger = logger
        self.configuration = configuration
        self.noticeSink = Unmanaged.passRetained(NoticeSink(logger: logger))
        PQsetNoticeReceiver(
            conn,
            { context, result in
                guard let context, let result else { return }
                let sink = Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue()
                sink.receive(result)
            }, noticeSink.toOpaque())
    }

    deinit {
        pendingCopy?.sent.wait()
        PQfinish(handle)
        noticeSink.release()
    }

    /// Whether the connection is still usable.
    public var isHealthy: Bool { !gaveUp && PQstatus(handle) == CONNECTION_OK }

    /// Runs a call that waits on the server, within the connection's answer timeout: past it,
    /// the socket is shut (``AnswerDeadlines``) and the call throws a ``PostgresError`` with code
    /// `.noAnswer`, whatever libpq made of the shut socket.
    func answered<T: ~Copyable>(_ call: () throws -> T) throws -> T {
        guard let answerTimeout, callDepth == 0 else {
            callDepth += 1
            defer { callDepth -= 1 }
            return try call()
        }
        func noAnswer() -> PostgresError {
            PostgresError(code: .noAnswer, message: "the database did not answer within \(answerTimeout); the connection was given up")
        }
        if gaveUp { throw noAnswer() }
        callDepth += 1
        defer { callDepth -= 1 }
        let watch = AnswerDeadlines.shared.begin(socket: PQsocket(handle), timeout: answerTimeout)
        let value: T
        do {
            value = try call()
        } catch {
            if AnswerDeadlines.shared.end(watch) {
                gaveUp = true
                throw noAnswer()
            }
            throw error
        }
        if AnswerDeadlines.shared.end(watch) {
            gaveUp = true
            throw noAnswer()
        }
        return value
    }

    /// Whether the connection is inside a transaction block (or a failed one).
    public var isInTransaction: Bool {
        if pendingCopy != nil { return true }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// The server's process id for this connection.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Results currently alive for this connection; zero whenever no ``QueryResult`` is in scope.
    public var liveResultCount: Int { tracker.liveCount }
    /// Results ever created on this connection.
    public var totalResultCount: Int { tracker.totalCount }

    // MARK: Queries

    /// Runs one parameterised statement and returns its result (text format).
    ///
    /// With `prepared: true` the statement is prepared once per connection and reused, which
    /// saves the server parsing and planning it again.
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = [], prepared: Bool = false) throws -> QueryResult {
        try query(sql, binds: parameters.map(\.postgresBind), prepared: prepared)
    }

    /// Runs one statement with already-encoded parameters.
    public func query(_ sql: String, binds: [PostgresBind], prepared: Bool = false) throws -> QueryResult {
        try answered { try runQuery(sql, binds: binds, prepared: prepared) }
    }

    private func runQuery(_ sql: String, binds: [PostgresBind], prepared: Bool) throws -> QueryResult {
        try settle()
        if prepared {
            let name = try preparedName(for: sql, binds: binds)
            let raw = Self.withParameters(binds) { _, values, lengths, formats in
                PQexecPrepared(handle, name, Int32(binds.count), values, lengths, formats, 0)
            }
            return try check(raw, query: sql)
        }
        let raw = Self.withParameters(binds) { types, values, lengths, formats in
            PQexecParams(handle, sql, Int32(binds.count), types, values, lengths, formats, 0)
        }
        return try check(raw, query: sql)
    }

    /// Runs a statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [any PostgresEncodable] = [], prepared: Bool = false) throws -> Int {
        try query(sql, parameters, prepared: prepared).affectedRows
    }

    /// Runs a script of one or more statements with no parameters (migrations, set-up).
    public func executeScript(_ sql: String) throws {
        // A rollback discards whatever a deferred copy did, so its outcome no longer matters.
        _ = try answered {
            if sql.hasPrefix("ROLLBACK") { try? settle() } else { try settle() }
            return try check(PQexec(handle, sql), query: sql)
        }
    }

    /// Prepares `sql` under `name` on this connection.
    public func prepare(_ name: String, _ sql: String, types: [Oid] = []) throws {
        _ = try answered {
            try settle()
            let raw = types.withUnsafeBufferPointer { PQprepare(handle, name, sql, Int32(types.count), $0.baseAddress) }
            return try check(raw, query: sql)
        }
        preparedStatements[sql] = name
    }

    /// Runs a statement prepared with ``prepare(_:_:types:)``.
    public func executePrepared(_ name: String, _ parameters: [any PostgresEncodable] = []) throws -> QueryResult {
        let binds = parameters.map(\.postgresBind)
        return try answered {
            try settle()
            let raw = Self.withParameters(binds) { _, values, lengths, formats in
                PQexecPrepared(handle, name, Int32(binds.count), values, lengths, formats, 0)
            }
            return try check(raw, query: name)
        }
    }

    private func preparedName(for sql: String, binds: [PostgresBind]) throws -> String {
        if let name = preparedStatements[sql] { return name }
        let name = "reach_\(preparedStatements.count + 1)"
        try prepare(name, sql, types: binds.map(\.oid))
        return name
    }

    // MARK: Transactions

    /// Runs `body` inside `BEGIN` ... `COMMIT`, rolling back if it throws.
    ///
    /// A `COMMIT` that the server turns into a rollback (because a statement failed and the
    /// error was swallowed) is reported as an error, never as success.
    @discardableResult
    public func withTransaction<T>(isolation: String? = nil, _ body: (Connection) throws -> T) throws -> T {
        try executeScript(isolation.map { "BEGIN ISOLATION LEVEL \($0)" } ?? "BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            if isHealthy { try? executeScript("ROLLBACK") }
            throw error
        }
        try commit()
        return value
    }

    /// Runs `body` inside `BEGIN` ... `COMMIT`, as ``withTransaction(isolation:_:)`` does, but
    /// keeps what it did only when `keep` says so of its value: otherwise the transaction is
    /// rolled back and the value still returned (an import that refused rows and was not told to
    /// skip them writes nothing, and says what it refused).
    public func withTransaction<T>(keepingIf keep: (T) -> Bool, _ body: (Connection) async throws -> T) async throws -> T {
        try executeScript("BEGIN")
        let value: T
        do {
            value = try await body(self)
        } catch {
            abandonTransaction()
            throw error
        }
        guard keep(value) else {
            try executeScript("ROLLBACK")
            return value
        }
        try commit()
        return value
    }

    /// Runs `body` inside a savepoint of the open transaction: kept when `keep` says so of what
    /// it returns; otherwise, or when it throws, undone, and the transaction goes on as before it.
    public func withSavepoint<T>(keepingIf keep: (T) -> Bool = { _ in true }, _ body: (Connection) throws -> T) throws -> T {
        try executeScript("SAVEPOINT reach_savepoint")
        let undo = "ROLLBACK TO SAVEPOINT reach_savepoint; RELEASE SAVEPOINT reach_savepoint"
        let value: T
        do {
            value = try body(self)
        } catch {
            if isHealthy { try? executeScript(undo) }
            throw error
        }
        try executeScript(keep(value) ? "RELEASE SAVEPOINT reach_savepoint" : undo)
        return value
    }

    /// Runs `body` in a transaction that is always rolled back: a trial whose effects are
    /// looked at and then discarded.
    public func withTrialTransaction<T>(_ body: (Connection) throws -> T) throws -> T {
        try executeScript("BEGIN")
        defer { abandonTransaction() }
        return try body(self)
    }

    /// Runs `body`, which works in chunks each committed as a transaction of its own: each call
    /// of the `next` it is given commits the chunk before (if any) and begins another, so that
    /// the server can still be working on one chunk while the caller makes the next. The last
    /// chunk is committed when `body` returns; if it throws, the open chunk is rolled back
    /// (chunks committed before stay).
    public func withChunkedTransactions<T>(_ body: (_ next: () throws -> Void) throws -> T) throws -> T {
        var open = false
        let next = { [self] in
            if open { try commit() }
            try executeScript("BEGIN")
            open = true
        }
        do {
            let value = try body(next)
            if open { try commit() }
            return value
        } catch {
            abandonTransaction()
            throw error
        }
    }

    /// Rolls back a transaction left open (or failed) on this connection, if there is one and
    /// the connection can still be spoken to: the clean-up after work that failed part way.
    public func abandonTransaction() {
        if isHealthy && isInTransaction { try? executeScript("ROLLBACK") }
    }

    /// Commits the open transaction, reporting a commit that the server turned into a rollback.
    private func commit() throws {
        do { try answered { try settle() } } catch {
            try? executeScript("ROLLBACK")
            throw error
        }
        let commit = try answered { try check(PQexec(handle, "COMMIT"), query: "COMMIT") }
        if String(cString: PQcmdStatus(commit.handle)) == "ROLLBACK" {
            throw PostgresError(
                code: .server, message: "the transaction was rolled back by the server because a statement in it failed", query: "COMMIT")
        }
    }

    // MARK: Pipeline

    /// Sends every statement without waiting for answers, then reads all results: one round
    /// trip for the batch (libpq pipeline mode). `handle` sees each statement's result in order.
    ///
    /// The statements run in one implicit transaction unless they say `BEGIN`/`COMMIT`
    /// themselves; after a failure the rest are skipped and the first error is thrown.
    public func pipeline(
        _ statements: [PipelineStatement], prepared: Bool = false, _ handle: (Int, borrowing QueryResult) throws -> Void = { _, _ in }
    ) throws {
        try answered { try runPipeline(statements, prepared: prepared, handle) }
    }

    private func runPipeline(_ statements: [PipelineStatement], prepared: Bool, _ handle: (Int, borrowing QueryResult) throws -> Void) throws {
        try settle()
        var names: [String?] = []
        if prepared {
            for statement in statements { names.append(try preparedName(for: statement.sql, binds: statement.binds)) }
        }
        guard PQenterPipelineMode(self.handle) == 1 else { throw PostgresError.fromConnection(self.handle, code: .client) }
        defer { PQexitPipelineMode(self.handle) }
        for (index, statement) in statements.enumerated() {
            let sent = Self.withParameters(statement.binds) { types, values, lengths, formats in
                if prepared, let name = names[index] {
                    return PQsendQueryPrepared(self.handle, name, Int32(statement.binds.count), values, lengths, formats, 0)
                }
                return PQsendQueryParams(self.handle, statement.sql, Int32(statement.binds.count), types, values, lengths, formats, 0)
            }
            guard sent == 1 else { throw PostgresError.fromConnection(self.handle, code: .client, query: statement.sql) }
        }
        guard PQpipelineSync(self.handle) == 1 else { throw PostgresError.fromConnection(self.handle, code: .client) }
        var firstError: (any Error)?
        for (index, statement) in statements.enumerated() {
            // Each statement yields one result, then NULL.
            while let raw = PQgetResult(self.handle) {
                let result = QueryResult(handle: raw, tracker: tracker)
                let status = PQresultStatus(raw)
                if status == PGRES_PIPELINE_ABORTED { continue }
                if firstError == nil {
                    if status == PGRES_FATAL_ERROR {
                        firstError = PostgresError.fromResult(raw, query: statement.sql)
                    } else {
                        do { try handle(index, result) } catch { firstError = error }
                    }
                }
            }
        }
        // Then the sync point.
        while let raw = PQgetResult(self.handle) {
            let result = QueryResult(handle: raw, tracker: tracker)
            if PQresultStatus(result.handle) == PGRES_PIPELINE_SYNC { break }
        }
        // The server ended the session (shutdown, terminated backend): the connection is gone.
        if var lost = firstError as? PostgresError, !isHealthy {
            lost.code = .connection
            throw lost
        }
        if let firstError { throw firstError }
    }

    // MARK: COPY

    /// Streams rows to the server with `COPY ... FROM STDIN`, the fastest way to load many rows.
    ///
    /// `write` appends rows in the format the `COPY` statement names (text by default: fields
    /// separated by tabs, escaped with ``CopyWriter/appendField(_:)``). Returns the rows copied.
    /// If `write` throws, the copy is cancelled and nothing is loaded.
    ///
    /// With `deferred: true` the rows are kept in memory and sent from a thread of their own:
    /// the call returns 0 at once, so the caller can prepare its next work while the server
    /// loads them, and the connection's next call waits for the copy and throws its error, if
    /// any (see ``settle()``).
    @discardableResult
    public func copyIn(_ sql: String, deferred: Bool = false, _ write: (inout CopyWriter) throws -> Void) throws -> Int {
        // (A deferred copy's rows are sent by a thread of their own after this returns; its
        // outcome is read, within the deadline, by the connection's next call, which settles
        // it first.)
        try answered { try runCopyIn(sql, deferred: deferred, write) }
    }

    private func runCopyIn(_ sql: String, deferred: Bool, _ write: (inout CopyWriter) throws -> Void) throws -> Int {
        try settle()
        let start = try check(PQexec(handle, sql), query: sql, accepting: PGRES_COPY_IN)
        _ = consume start
        var writer = CopyWriter(connection: handle, collecting: deferred)
        do {
            try write(&writer)
            if !deferred { try writer.flush() }
        } catch {
            PQputCopyEnd(handle, "cancelled by the client")
            while let raw = PQgetResult(handle) { _ = QueryResult(handle: raw, tracker: tracker) }
            throw error
        }
        if deferred {
            let copy = PendingCopy(handle: handle, sql: sql, parts: writer.takeParts())
            pendingCopy = copy
            Thread { copy.send() }.start()
            return 0
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw PostgresError.fromConnection(handle, code: .client, query: sql) }
        var copied = 0
        var failure: PostgresError?
        while let raw = PQgetResult(handle) {
            let result = QueryResult(handle: raw, tracker: tracker)
            if PQresultStatus(raw) == PGRES_COMMAND_OK {
                copied = result.affectedRows
            } else if failure == nil {
                failure = .fromResult(raw, query: sql)
            }
        }
        if let failure { throw failure }
        return copied
    }

    /// A copy handed to a thread of its own by ``copyIn(_:deferred:_:)``: the thread sends the
    /// rows while the caller goes on with other work; the connection's next call waits for it.
    ///
    /// `@unchecked Sendable`: libpq's handle is not thread-safe, and `parts` and `failure` are
    /// mutable; but from the hand-over until `sent` is signalled only the sending thread
    /// touches them (the connection refuses every other call until then by waiting on `sent`
    /// first), and afterwards only the connection's own thread. The semaphore orders the two.
    /// A thread rather than a task: the sending blocks in libpq, which the cooperative pool
    /// must not.
    final class PendingCopy: @unchecked Sendable {
        let handle: OpaquePointer
        let sql: String
        var parts: [[UInt8]]
        var failure: PostgresError?
        let sent = DispatchSemaphore(value: 0)

        init(handle: OpaquePointer, sql: String, parts: [[UInt8]]) {
            self.handle = handle
            self.sql = sql
            self.parts = parts
        }

        func send() {
            defer { sent.signal() }
            let piece = 1 << 20
            for rows in parts {
                var offset = 0
                while offset < rows.count {
                    let count = min(piece, rows.count - offset)
                    let status = rows.withUnsafeBufferPointer { pointer in
                        pointer.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: count) {
                            PQputCopyData(handle, $0, Int32(count))
                        }
                    }
                    guard status == 1 else {
                        failure = .fromConnection(handle, code: .client, query: sql)
                        PQputCopyEnd(handle, "the client could not send")
                        return
                    }
                    offset += count
                }
            }
            parts = []
            if PQputCopyEnd(handle, nil) != 1 { failure = .fromConnection(handle, code: .client, query: sql) }
        }
    }

    private var pendingCopy: PendingCopy?

    /// Waits for a copy sent with `deferred: true` to be loaded, throwing its error if it
    /// failed. Every other call on the connection does this first.
    public func settle() throws {
        guard let copy = pendingCopy else { return }
        pendingCopy = nil
        copy.sent.wait()
        var failure = copy.failure
        while let raw = PQgetResult(handle) {
            let result = QueryResult(handle: raw, tracker: tracker)
            if PQresultStatus(raw) != PGRES_COMMAND_OK, failure == nil { failure = .fromResult(raw, query: copy.sql) }
            _ = consume result
        }
        if let failure { throw failure }
    }

    // MARK: LISTEN / NOTIFY

    /// Starts listening on `channel`.
    public func listen(_ channel: String) throws {
        try executeScript("LISTEN " + quoteIdentifier(channel))
    }

    /// Stops listening on `channel`.
    public func unlisten(_ channel: String) throws {
        try executeScript("UNLISTEN " + quoteIdentifier(channel))
    }

    /// Waits up to `timeout` for notifications by polling the connection's socket, and returns
    /// those that arrived (possibly none).
    public func waitForNotifications(timeout: Duration) throws -> [PostgresNotification] {
        try settle()
        var received = try drainNotifications()
        guard received.isEmpty else { return received }
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0, errno != EINTR {
            throw PostgresError(code: .connection, message: "polling the connection failed: errno \(errno)")
        }
        received = try drainNotifications()
        return received
    }

    private func drainNotifications() throws -> [PostgresNotification] {
        guard PQconsumeInput(handle) == 1 else { throw PostgresError.fromConnection(handle, code: .connection) }
        var out: [PostgresNotification] = []
        while let notify = PQnotifies(handle) {
            out.append(
                PostgresNotification(
                    channel: String(cString: notify.pointee.relname),
                    payload: String(cString: notify.pointee.extra),
                    senderPID: notify.pointee.be_pid
                ))
            PQfreemem(notify)
        }
        return out
    }

    /// Quotes an identifier with libpq's own escaping.
    public func quoteIdentifier(_ identifier: String) throws -> String {
        guard let escaped = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
            throw PostgresError.fromConnection(handle, code: .client)
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    // MARK: Plumbing

    private func check(_ raw: OpaquePointer?, query: String?, accepting extra: ExecStatusType? = nil) throws -> QueryResult {
        guard let raw else { throw PostgresError.fromConnection(handle, code: isHealthy ? .client : .connection, query: query) }
        let result = QueryResult(handle: raw, tracker: tracker)
        let status = PQresultStatus(raw)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == extra { return result }
        if status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR {
            var error = PostgresError.fromResult(raw, query: query)
            // The server ended the session (shutdown, terminated backend): the connection is gone.
            if !isHealthy { error.code = .connection }
            // The detail may hold row values: it goes to debug-level logs only.
            logger.debug("statement failed", metadata: ["postgres.error": "\(error.debugDescription)"])
            throw error
        }
        if !isHealthy { throw PostgresError.fromConnection(handle, code: .connection, query: query) }
        throw PostgresError(code: .client, message: "unexpected result status \(String(cString: PQresStatus(status)))", query: query)
    }

    /// Lays every parameter's bytes out in one buffer and hands libpq pointers into it; none of
    /// them outlives the call.
    static func withParameters<R>(
        _ binds: [PostgresBind],
        _ body: (UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        var storage = [UInt8]()
        storage.reserveCapacity(binds.reduce(0) { $0 + ($1.bytes?.count ?? 0) + 1 })
        var offsets = [Int?]()
        offsets.reserveCapacity(binds.count)
        for bind in binds {
            if let bytes = bind.bytes {
                offsets.append(storage.count)
                storage.append(contentsOf: bytes)
                storage.append(0) // text values must be NUL-terminated
            } else {
                offsets.append(nil)
            }
        }
        let types = binds.map(\.oid)
        let lengths = binds.map { Int32($0.bytes?.count ?? 0) }
        let formats = binds.map(\.format)
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress)
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard let offset, let base else { return nil }
                return (base + offset).assumingMemoryBound(to: CChar.self)
            }
            return body(types, values, lengths, formats)
        }
    }
}

/// Buffers `COPY` data and sends it in large chunks.
public struct CopyWriter: ~Copyable {
    let connection: OpaquePointer
    /// Whether the rows are kept to be sent later (a deferred copy) rather than sent as written.
    let collecting: Bool
    private var text = CopyText(capacity: Self.chunk + 4096)
    private static let chunk = 1 << 18

    init(connection: OpaquePointer, collecting: Bool = false) {
        self.connection = connection
        self.collecting = collecting
    }

    /// Rows handed over whole by ``append(_:)`` while collecting, before those in `text`.
    private var parts: [[UInt8]] = []

    /// What a collecting writer holds, in order.
    mutating func takeParts() -> [[UInt8]] {
        defer {
            parts = []
            text = CopyText()
        }
        return text.bytes.isEmpty ? parts : parts + [text.bytes]
    }

    /// Appends raw bytes (already in the `COPY` format, such as a ``CopyText``'s).
    public mutating func append(raw bytes: some Sequence<UInt8>) throws {
        text.append(raw: bytes)
        if text.bytes.count >= Self.chunk { try flush() }
    }

    /// Appends whole rows: a collecting writer keeps them as they are, without copying.
    public mutating func append(_ rows: consuming CopyText) throws {
        guard collecting else { return try append(raw: rows.bytes) }
        if !text.bytes.isEmpty {
            parts.append(text.bytes)
            text = CopyText()
        }
        parts.append(rows.bytes)
    }

    /// Appends one field in `COPY` text format, escaping backslashes, tabs and newlines;
    /// `nil` becomes `\N`. Fields are followed by a tab, or by a newline when `last` is true.
    public mutating func appendField(_ value: String?, last: Bool = false) throws {
        text.appendField(value, last: last)
        if last, text.bytes.count >= Self.chunk { try flush() }
    }

    /// Appends one field of text already encoded as UTF-8, as ``appendField(_:last:)`` does.
    public mutating func appendField(bytes: [UInt8], last: Bool = false) throws {
        text.appendField(bytes: bytes, last: last)
        if last, text.bytes.count >= Self.chunk { try flush() }
    }

    mutating func flush() throws {
        guard !text.bytes.isEmpty, !collecting else { return }
        let status = text.bytes.withUnsafeBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: pointer.count) {
                PQputCopyData(connection, $0, Int32(pointer.count))
            }
        }
        guard status == 1 else { throw PostgresError.fromConnection(connection, code: .client) }
        text.removeAll()
    }
}

/// Rows in `COPY` text format, made in memory: on any thread, to be handed to a
/// ``CopyWriter`` with ``CopyWriter/append(raw:)``.
public struct CopyText: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    mutating func append(raw more: some Sequence<UInt8>) { bytes.append(contentsOf: more) }

    /// Appends one field, escaping backslashes, tabs and newlines; `nil` becomes `\N`. Fields
    /// are followed by a tab, or by a newline when `last` is true.
    public mutating func appendField(_ value: String?, last: Bool = false) {
        if let value {
            appendField(value, last: last)
        } else {
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(UInt8(ascii: "N"))
            bytes.append(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
        }
    }

    /// Appends one field of text, as ``appendField(_:last:)`` does.
    public mutating func appendField(_ value: String, last: Bool = false) {
        // Read in place; only a string that is not stored as UTF-8 is copied.
        if value.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            var copy = value
            copy.withUTF8 { appendEscaped($0) }
        }
        bytes.append(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
    }

    /// Appends one field of text already encoded as UTF-8, as ``appendField(_:last:)`` does.
    public mutating func appendField(bytes field: [UInt8], last: Bool = false) {
        field.withUnsafeBufferPointer { appendEscaped($0) }
        bytes.append(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
    }

    /// Appends a whole number field.
    public mutating func appendField(_ value: Int64, last: Bool = false) {
        bytes.appendDecimal(value)
        bytes.append(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
    }

    /// Appends a `uuid` field.
    public mutating func appendField(_ value: UUID, last: Bool = false) {
        value.appendLowercased(to: &bytes)
        bytes.append(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
    }

    /// Appends a `bytea` field in hex (`\x...`, its backslash escaped for `COPY`).
    public mutating func appendField(bytea value: [UInt8], last: Bool = false) {
        bytes.append(contentsOf: #"\\x"#.utf8)
        bytes.appendHex(value)
        bytes.append(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
    }

    private mutating func appendEscaped(_ field: UnsafeBufferPointer<UInt8>) {
        // Most fields need no escaping: copy them whole.
        if !field.contains(where: { $0 == UInt8(ascii: "\\") || $0 < 0x20 }) {
            bytes.append(contentsOf: field)
            return
        }
        for byte in field {
            switch byte {
            case UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\t"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "r"))
            default: bytes.append(byte)
            }
        }
    }
}

/// Receives the server's notices (warnings, `RAISE NOTICE`) and logs them.
///
/// Only ever called on the connection's own thread, from inside a libpq call.
final class NoticeSink {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }

    func receive(_ result: OpaquePointer) {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        let severity = field("V") ?? "NOTICE"
        let message = field("M") ?? ""
        var metadata: Logger.Metadata = ["postgres.severity": "\(severity)"]
        if let state = field("C") { metadata["postgres.sqlstate"] = "\(state)" }
        switch severity {
        case "WARNING": logger.warning("\(message)", metadata: metadata)
        case "DEBUG", "LOG": logger.debug("\(message)", metadata: metadata)
        default: logger.info("\(message)", metadata: metadata)
        }
    }
}
