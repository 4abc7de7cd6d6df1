import Foundation
import Logging
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ServiceLifecycle
import Synchronization

/// Something asked for that is not there, or not the asker's to see (the two are not told
/// apart, so that an id tells nobody whether another account's job exists).
public struct NotFound: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An import run as a job (``ReachApplication/startImport(file:name:bytes:type:skipInvalid:as:)``):
/// its progress while it runs, and its outcome once it has finished.
public struct ImportJob: Sendable, Encodable {
    /// One refusal of one row: the file's line, the record's id, the field and the rule.
    public struct RefusedLine: Sendable, Codable, Equatable {
        public var line: Int
        public var id: String?
        public var field: String
        public var reason: String
    }

    public var id: String
    public var account: String
    public var file: String
    public var type: String?
    public var skipInvalid: Bool
    public var bytes: Int64
    /// `running`, then `succeeded` (the rows that passed are in the log), `refused` (nothing
    /// was appended: a row or the file was refused) or `failed` (nothing was appended: the
    /// import could not finish, such as when its service stopped).
    public var state: String
    public var rowsRead: Int64
    public var appended: Int64?
    public var alreadyPresent: Int64?
    public var refusedRows: Int64?
    public var refusals: [RefusedLine]?
    public var error: String?
    /// Whether a rejects file (the refused rows with their reasons) can be downloaded.
    public var hasRejects: Bool
    public var createdAt: String
    public var finishedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, account, file, type
        case skipInvalid = "skip_invalid"
        case bytes, state
        case rowsRead = "rows_read"
        case appended
        case
            alreadyPresent = "already_present"
        case refusedRows = "refused_rows"
        case refusals, error
        case hasRejects = "has_rejects"
        case
            createdAt = "created_at"
        case finishedAt = "finished_at"
    }
}

extension ReachApplication {
    /// The most refusals a job keeps in its row (the rejects file holds every refused row).
    static let keptRefusals = 10_000

    /// What a job's row is read as.
    static let importJobColumns = """
        id::text, account, file_name, record_type, skip_invalid, bytes, state, rows_read, appended, already_present, refused_rows,
        refusals::text, error, rejects IS NOT NULL, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        """

    /// A file name an upload may be kept and imported under: letters, digits, `.`, `_` and
    /// `-`, ending in `.csv`, `.jsonl` or `.json` (what tells the importer the format, and
    /// for CSV without a type, the record type).
    public static func uploadName(_ given: String?, csv: Bool) throws -> String {
        guard let given, !given.isEmpty else { return csv ? "upload.csv" : "upload.jsonl" }
        guard given.count <= 200, given.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]*$", options: .regularExpression) != nil else {
            throw Refusals([Refusal("name", "is a file name of letters, digits, '.', '_' and '-' (at most 200)")])
        }
        let lower = given.lowercased()
        guard csv ? lower.hasSuffix(".csv") : (lower.hasSuffix(".jsonl") || lower.hasSuffix(".json")) else {
            throw Refusals([Refusal("name", csv ? "of a CSV upload ends in .csv" : "of a JSON Lines upload ends in .jsonl")])
        }
        return given
    }

    /// Starts importing a file already on disk (`file`, named `name`, `bytes` long) as a job,
    /// and returns at once: the job is checked and appended as ``importFile(path:type:skipInvalid:as:progress:)``
    /// does, in one transaction, while its row records how many rows are done. The file's
    /// directory is removed when the job ends. Staff import for their authorities; admins for any.
    public func startImport(file: String, name: String, bytes: Int64, type: String?, skipInvalid: Bool, as identity: Identity) async throws
        -> ImportJob
    {
        try Access.checkMayRecord(identity)
        if let type, RecordType.recordable[type] == nil {
            throw Refusals([RecordType.unknown(String(type.prefix(60)))])
        }
        if name.lowercased().hasSuffix(".csv"), type == nil {
            let stem = (name as NSString).deletingPathExtension
            guard RecordType.recordable.keys.contains(where: { stem.hasPrefix($0) }) else {
                throw Refusals([Refusal("type", "is needed for a CSV file: name the record type (such as activity_delivered), or the file after it")])
            }
        }
        guard let runner = importJobs, !runner.hasStopped else {
            throw RequestError("import jobs run in a service (reach serve) that is running; import the file with reach import")
        }
        let id = UUID().uuidString.lowercased()
        // The job's bookkeeping connection stays open while it runs: while its session lives,
        // the job is running; once gone (the service stopped), the job shows as failed.
        let database = database
        let book = try await blocking {
            let connection = try database.dedicated(.application)
            _ = try connection.execute(
                """
                INSERT INTO reach.import_jobs (id, account, file_name, record_type, skip_invalid, bytes, backend_pid, backend_start)
                SELECT $1::uuid, $2, $3, $4, $5, $6, pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())
                """, [id, identity.name, name, type, skipInvalid, bytes])
            return JobBook(connection: connection, id: id)
        }
        let app = self
        runner.start { await app.runImport(book, file: file, type: type, skipInvalid: skipInvalid, as: identity) }
        return try await importJob(id, as: identity)
    }

    /// Runs a job's import to its end and records the outcome in its row.
    func runImport(_ book: JobBook, file: String, type recordType: String?, skipInvalid: Bool, as identity: Identity) async {
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let finish: (String, [any PostgresEncodable]) -> Void = { sql, parameters in
            do { try book.finish(sql, parameters) } catch {
                self.logger.error(
                    "an import job's outcome could not be recorded", metadata: ["job": "\(book.id)", "error.type": "\(type(of: error))"])
            }
        }
        do {
            let outcome = try await importFile(path: file, type: recordType, skipInvalid: skipInvalid, as: identity) { done in book.progress(done) }
            let summary = outcome.summary
            let refusals = summary.refused.flatMap { row in
                row.refusals.map { ImportJob.RefusedLine(line: row.line, id: row.id, field: $0.field, reason: $0.reason) }
            }
            let state = summary.committed ? "succeeded" : "refused"
            finish(
                """
                UPDATE reach.import_jobs SET state = $2, rows_read = $3, appended = $4, already_present = $5, refused_rows = $6,
                    refusals = $7::jsonb, rejects = $8, finished_at = now() WHERE id = $1::uuid
                """,
                [
                    book.id, state, Int64(summary.read), Int64(summary.committed ? summary.appended : 0), Int64(summary.alreadyPresent),
                    Int64(summary.refused.count), try Self.json(Array(refusals.prefix(Self.keptRefusals))),
                    summary.refused.isEmpty ? nil : outcome.rejects,
                ])
        } catch let refusals as Refusals {
            let lines = refusals.all.map { ImportJob.RefusedLine(line: 0, id: nil, field: $0.field, reason: $0.reason) }
            finish(
                """
                UPDATE reach.import_jobs SET state = 'refused', appended = 0, refused_rows = 0, refusals = $2::jsonb, finished_at = now()
                WHERE id = $1::uuid
                """, [book.id, (try? Self.json(lines)) ?? "[]"])
        } catch {
            logger.error("an import job failed", metadata: ["job": "\(book.id)", "error.type": "\(type(of: error))"])
            let reason =
                (error as? RequestError)?.description ?? (error as? AccessDenied)?.description
                ?? (error as? PostgresError).flatMap { error in
                    error.operatorReason.map { reason in
                        error.meansUnavailable
                            // The connection went while the import ran: its commit may or may not have happened.
                            ? "the import could not finish: \(reason); if it was appended, importing the file again appends nothing twice"
                            : "the import could not finish: \(reason); nothing of it was appended, so it can be imported again as it is"
                    }
                }
                ?? "the import could not finish (\(type(of: error))); nothing of it was appended"
            finish(
                "UPDATE reach.import_jobs SET state = 'failed', appended = 0, error = $2, finished_at = now() WHERE id = $1::uuid", [book.id, reason])
        }
    }

    static func json(_ lines: [ImportJob.RefusedLine]) throws -> String {
        String(decoding: try JSONEncoder().encode(lines), as: UTF8.self)
    }

    /// A job of the asker's (any job, for an admin), its state brought up to date: a job whose
    /// service stopped while it ran is marked failed.
    public func importJob(_ id: String, as identity: Identity) async throws -> ImportJob {
        guard UUID(uuidString: id) != nil else { throw NotFound("no import job '\(id.prefix(40))'") }
        return try await database.withConnection(.application) { connection in
            _ = try connection.execute(
                """
                UPDATE reach.import_jobs j SET state = 'failed', finished_at = now(),
                    error = 'the service running the import stopped before it finished; nothing of it was appended'
                WHERE j.id = $1::uuid AND j.state = 'running'
                  AND NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = j.backend_pid AND a.backend_start = j.backend_start)
                """, [id])
            let found = try connection.query(
                "SELECT \(Self.importJobColumns) FROM reach.import_jobs WHERE id = $1::uuid AND ($2 OR account = $3)",
                [id, Access.seesEveryonesImports(identity), identity.name])
            guard found.rowCount == 1 else { throw NotFound("no import job '\(id)' of yours") }
            return try Self.importJob(found, row: 0)
        }
    }

    /// The asker's latest import jobs (everyone's, for an admin), newest first.
    public func importJobs(limit: Int = 50, as identity: Identity) async throws -> [ImportJob] {
        try Access.checkMayRecord(identity)
        return try await database.withConnection(.application) { connection in
            let found = try connection.query(
                "SELECT \(Self.importJobColumns) FROM reach.import_jobs WHERE $1 OR account = $2 ORDER BY created_at DESC LIMIT $3",
                [Access.seesEveryonesImports(identity), identity.name, Int64(limit)])
            return try (0..<found.rowCount).map { try Self.importJob(found, row: $0) }
        }
    }

    /// A finished job's rejects file: its refused rows, each with its reason, in the format of
    /// the file imported (CSV or JSON Lines).
    public func importRejects(_ id: String, as identity: Identity) async throws -> (text: String, isCSV: Bool) {
        let job = try await importJob(id, as: identity)
        guard job.hasRejects else { throw NotFound("import job '\(id)' has no refused rows") }
        let text = try await database.withConnection(.application) { connection in
            try connection.query("SELECT rejects FROM reach.import_jobs WHERE id = $1::uuid", [id])
                .decode(String.self, row: 0, column: 0)
        }
        return (text, job.file.lowercased().hasSuffix(".csv"))
    }

    static func importJob(_ result: borrowing QueryResult, row: Int) throws -> ImportJob {
        let refusals = try result.decodeIfPresent(String.self, row: row, column: 11)
            .map { try JSONDecoder().decode([ImportJob.RefusedLine].self, from: Data($0.utf8)) }
        return ImportJob(
            id: try result.decode(row: row, column: 0), account: try result.decode(row: row, column: 1), file: try result.decode(row: row, column: 2),
            type: try result.decodeIfPresent(String.self, row: row, column: 3), skipInvalid: try result.decode(row: row, column: 4),
            bytes: try result.decode(row: row, column: 5), state: try result.decode(row: row, column: 6),
            rowsRead: try result.decode(row: row, column: 7),
            appended: try result.decodeIfPresent(Int64.self, row: row, column: 8),
            alreadyPresent: try result.decodeIfPresent(Int64.self, row: row, column: 9),
            refusedRows: try result.decodeIfPresent(Int64.self, row: row, column: 10), refusals: refusals,
            error: try result.decodeIfPresent(String.self, row: row, column: 12), hasRejects: try result.decode(row: row, column: 13),
            createdAt: try result.decode(row: row, column: 14), finishedAt: try result.decodeIfPresent(String.self, row: row, column: 15))
    }
}

/// A running job's row: its progress, written at most twice a second from the import's
/// thread, and its outcome, on the job's own connection.
final class JobBook: Sendable {
    let id: String
    private let state: Mutex<(connection: Connection?, last: ContinuousClock.Instant)>

    init(connection: sending Connection, id: String) {
        self.id = id
        self.state = Mutex((connection, ContinuousClock.now))
    }

    func progress(_ done: Int) {
        state.withLock { state in
            guard let connection = state.connection, ContinuousClock.now - state.last > .milliseconds(500) else { return }
            state.last = ContinuousClock.now
            _ = try? connection.execute("UPDATE reach.import_jobs SET rows_read = $2 WHERE id = $1::uuid AND state = 'running'", [id, Int64(done)])
        }
    }

    func finish(_ sql: String, _ parameters: [any PostgresEncodable]) throws {
        try state.withLock { state in
            defer { state.connection = nil }
            guard let connection = state.connection else { return }
            _ = try connection.execute(sql, parameters)
        }
    }
}

/// The import jobs that requests start, run to their end by a service of the service group:
/// each job a child task of its `run()`, so that a graceful shutdown stops taking jobs and
/// waits for those running (a job still running when the shutdown's time is up is cancelled,
/// and rolls back). Jobs reach it through an `AsyncStream`.
public final class ImportJobRunner: Service, Sendable {
    private let jobs: AsyncStream<@Sendable () async -> Void>
    private let queue: AsyncStream<@Sendable () async -> Void>.Continuation
    private let stopped = Atomic<Bool>(false)

    public init() {
        (jobs, queue) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
    }

    /// Whether it has stopped, and so takes no more jobs (jobs handed over before it starts
    /// wait for it).
    public var hasStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Hands a job over to be run.
    func start(_ job: @escaping @Sendable () async -> Void) {
        queue.yield(job)
    }

    public func run() async throws {
        defer { stopped.store(true, ordering: .releasing) }
        let queue = queue
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await job in jobs { group.addTask { await job() } }
            }
        } onGracefulShutdown: {
            queue.finish()
        }
    }
}
