import Foundation
import Logging
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachProjections

/// Figures as one asker gets them: tidy rows, the policy applied to them, and the projections
/// that were behind the log when they were computed (their figures may be out of date).
public struct Figures: Sendable {
    public var rows: [Observation]
    public var policy: DisclosurePolicy.Name
    public var staleProjections: [String]
    /// For one authority's published figures, the log position its publication reflects.
    public var position: Int64?

    public init(rows: [Observation], policy: DisclosurePolicy.Name, staleProjections: [String], position: Int64? = nil) {
        self.rows = rows
        self.policy = policy
        self.staleProjections = staleProjections
        self.position = position
    }
}

/// The formats a summary leaves the programme in, each recorded with its export.
public enum ExportFormat: String, Sendable, CaseIterable {
    case csv, json, xlsx
    /// The printable report.
    case html
    /// The printable report as a PDF.
    case pdf
}

/// An export of an authority's summary, made and recorded.
public struct SummaryExport: Sendable, Encodable {
    public var laID: String
    public var period: String
    public var policy: String
    public var rows: Int
    /// Where the `summary_exported` event was appended.
    public var recordedAtPosition: Int64

    enum CodingKeys: String, CodingKey {
        case laID = "la_id"
        case period, policy, rows
        case recordedAtPosition = "recorded_at_position"
    }
}

extension ReachApplication {
    /// Metric queries are short and run side by side: compiling them (JIT) or starting parallel
    /// workers for them costs more than it saves.
    public static let metricsSessionSettings = "SET jit = off; SET max_parallel_workers_per_gather = 0"

    // MARK: Metrics

    /// Reach and impact figures for `query`, limited to what `identity` may see and under the
    /// disclosure policy its role gets (``Access/figures(_:policy:publish:for:)``). For askers
    /// who read every authority, the projections are first brought up to date, so a record made
    /// a moment before shows in the figures. One authority's figures under a policy are its
    /// published ones (``Publication``), for its login and for anyone else: the projection
    /// runner publishes every authority in the background within moments of each change to the
    /// log, and a request reads the latest publication with the log position it reflects
    /// (where no runner runs, as on the command line, it is published first when stale).
    public func metrics(_ query: MetricQuery, policy: DisclosurePolicy.Name? = nil, publish: Bool = false, as identity: Identity) async throws
        -> Figures
    {
        let asked = try Access.figures(query, policy: policy, publish: publish, for: identity)
        let (database, disclosure, refresh, cache, service) = (database, disclosure, refreshesFigures, figuresCache, servesRequests)
        if asked.schema == "authority" {
            let grant = asked
            let source = Self.readSource(database.target, for: identity, service: service)
            let (rows, settled) = try await database.withConnection(.reading(identity, from: source)) { connection in
                do {
                    // (The policy of what is published for it: the one the programme set.)
                    let settled =
                        try Self.authorityPolicy(
                            la: grant.query.la ?? "", asked: policy, inForce: try Publication.publishedPolicy(on: connection)) ?? grant.policy
                    return (try Self.publishedFigures(grant.query, policy: settled, on: connection), settled)
                } catch {
                    Self.noteReadFailure(error, on: [connection], database.target, logger: database.logger)
                    throw error
                }
            }
            return Figures(rows: rows, policy: settled, staleProjections: [])
        }
        var settled = asked
        settled.policy = try await settledPolicy(asked, asked: policy)
        let grant = settled
        return try await blocking {
            if grant.policy != .none, let la = grant.query.la {
                // One authority under its policy: its latest publication, as the runner keeps it
                // (or, where there is none, published first).
                let stale = try refresh ? database.withOpened(.owner) { try ProjectionEngine(logger: database.logger).waitUntilCaughtUp(on: $0) } : []
                let released = try Self.releasedFigures(
                    grant.query, la: la, policy: grant.policy, publishFirst: refresh, database: database, disclosure: disclosure)
                return Figures(rows: released.rows, policy: grant.policy, staleProjections: stale, position: released.position)
            }
            var stale: [String] = []
            let compute = {
                try Self.withFigureReaders(database, refresh: refresh, as: identity, service: service, disclosure: disclosure) { readers, behind in
                    stale = behind
                    let rules = disclosure.policy(grant.policy)
                    let calculator = MetricsCalculator(schema: grant.schema)
                    return rules.apply(try calculator.compute(grant.query, on: readers), authority: grant.query.la)
                }
            }
            let key = FiguresCache.key("metrics", grant.query, policy: grant.policy, schema: grant.schema, authorities: identity.authorities)
            let rows = try cache.map { try $0.rows(key, compute) } ?? compute()
            return Figures(rows: rows, policy: grant.policy, staleProjections: stale)
        }
    }

    /// The policy one authority's figures are answered under (``authorityPolicy(la:asked:inForce:)``):
    /// the grant's own when it is `none` or is for more than one authority.
    func settledPolicy(_ grant: Access.FiguresGrant, asked: DisclosurePolicy.Name?) async throws -> DisclosurePolicy.Name {
        guard grant.policy != .none, let la = grant.query.la else { return grant.policy }
        let inForce = try await database.withConnection(.application) { try Publication.policy(of: la, on: $0) }
        return try Self.authorityPolicy(la: la, asked: asked, inForce: inForce) ?? grant.policy
    }

    /// One authority's figures under its policy for anyone in the programme (a researcher, an
    /// admin, its staff): from its latest publication, with the log position it reflects.
    /// Inside the programme, reading them is not a release (those who ask see the exact
    /// figures as well); an export is.
    static func releasedFigures(
        _ query: MetricQuery, la: String, policy: DisclosurePolicy.Name, publishFirst: Bool, database: DatabaseClient,
        disclosure: DisclosureSettings
    ) throws -> (rows: [Observation], position: Int64?) {
        try database.withOpened(.owner) { owner in
            let first = try Publication.publishedFirstDate(of: la, on: owner)
            let pieces = try Publication.pieces(of: query, la: la, first: first, today: .today)
            let (tables, position) = try releasedTables(
                la, periods: pieces.map(\.period.label), policy: policy, how: nil, publishFirst: publishFirst, owner: owner,
                database: database, disclosure: disclosure)
            let rows = try pieces.flatMap { scope, period in
                guard let table = tables[period.label] else {
                    throw UnpublishedPeriod(Publication.notPublished(period, la: la, first: first, today: .today))
                }
                return Publication.answer(query, scope: scope, from: table)
            }
            return (rows, position)
        }
    }

    /// One authority's published tables of `periods` under `policy`, and the log position they
    /// reflect; with `publishFirst` (where no runner publishes: the command line), published
    /// first when the log has moved past them and the login may publish. With `how` (`read`
    /// or `exported`), noted as released in the same transaction as they are read: every
    /// later publication of the authority is solved together with them.
    static func releasedTables(
        _ la: String, periods: [String], policy: DisclosurePolicy.Name, how: String?, publishFirst: Bool, owner: Connection,
        database: DatabaseClient, disclosure: DisclosureSettings
    ) throws -> (tables: [String: [Observation]], position: Int64?) {
        if publishFirst, try Publication.mayPublish(on: owner) {
            var own: [Connection]?
            defer { own.map(database.give) }
            _ = try publishStale(
                all: false, among: [la], database,
                readers: {
                    if own == nil { own = try figureReaders(database, refresh: false, disclosure: disclosure).0 }
                    return own!
                }, disclosure: disclosure)
        }
        return try Publication.release(la, periods: periods, policy: policy.rawValue, how: how, on: owner)
    }

    /// A local authority's login's figures: its published summaries of the query's period (or
    /// of each month or year the query cuts it into), the query's metrics from each.
    static func publishedFigures(_ query: MetricQuery, policy: DisclosurePolicy.Name, on connection: Connection) throws -> [Observation] {
        guard try Publication.isAuthorityLogin(on: connection) else { throw AccessDenied("this connection reads for no local authority") }
        var out: [Observation] = []
        let la = query.la ?? "the authority"
        for (scope, period) in try Publication.pieces(of: query, la: la, first: nil, today: .today) {
            guard case .success(let whole) = Period.parse(period.label), whole == period else {
                throw RequestError("'\(period.label)' is only part of \(query.period.label): cut it by month, quarter or year")
            }
            guard let rows = try Publication.published(period: period.label, policy: policy.rawValue, on: connection) else {
                throw RequestError(Self.unpublished(la, period))
            }
            out += Publication.answer(query, scope: scope, from: rows)
        }
        return out
    }

    /// What a lead is told of a period with no published summary, in words (never a command).
    static func unpublished(_ la: String, _ period: Period) -> String {
        Publication.outside(period, la: la, first: nil, today: .today)
            ?? "there are no published figures of \(la) for \(period.label): each authority's figures are published for every period from its first record (or September 2024) to date, within moments of each change to the log"
    }

    /// Connections to compute figures on: one per core (up to four), so the server answers a
    /// query's independent parts side by side, each reading as `identity` does
    /// (``connect(_:as:reading:logger:pool:)``; the application's own login when nil), from
    /// where ``readSource(_:for:service:)`` sends `identity`'s reads (all of them from one
    /// server). With
    /// `refresh`, the projections are brought up to date first (that needs the owner's login)
    /// and, with `publish`, the authorities' summaries the log has moved past are published (on
    /// the application's connections, never an asker's); the names of projections still behind
    /// come back.
    static func figureReaders(
        _ database: DatabaseClient, refresh: Bool, as identity: Identity? = nil, service: Bool = false,
        disclosure: DisclosureSettings, publish: Bool = true
    ) throws -> ([Connection], stale: [String]) {
        let (target, logger) = (database.target, database.logger)
        var stale: [String] = []
        if refresh {
            let owner = try database.open(.owner)
            stale = try ProjectionEngine(logger: logger).waitUntilCaughtUp(on: owner)
            database.give([owner])
        }
        func readers(as identity: Identity?, from source: ConnectionConfiguration = target.application) throws -> [Connection] {
            // The first decides the server (the replica's, unless it cannot be reached), and the
            // others read on the same one.
            var (first, server) = try database.openReading(identity, from: source)
            var all = [first]
            do {
                try first.executeScript(metricsSessionSettings)
                for _ in 1..<min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) {
                    (first, server) = try database.openReading(identity, from: server)
                    all.append(first)
                    try first.executeScript(metricsSessionSettings)
                }
            } catch {
                noteReadFailure(error, on: all, target, logger: logger)
                database.give(all)
                throw error
            }
            return all
        }
        // Authorities' logins read what is published: publish what the log has moved past.
        if refresh && publish && stale.isEmpty {
            var own: [Connection]?
            _ = try publishStale(
                all: false, database,
                readers: {
                    if own == nil { own = try readers(as: nil) }
                    return own!
                }, disclosure: disclosure)
            if identity == nil, let own { return (own, stale) }
            if let own { database.give(own) }
        }
        var source = readSource(target, for: identity, service: service)
        if refresh && source != target.application {
            // What was just brought up to date (and published) is read once the replica has it.
            let owner = try database.open(.owner)
            let position = try primaryPosition(on: owner)
            database.give([owner])
            let first = try readers(as: identity, from: source)
            do {
                if try hasReplayed(position, on: first[0], within: replayWait) { return (first, stale) }
                logger.warning("the read replica has not replayed the figures just brought up to date; reading from the primary")
            } catch {
                noteReadFailure(error, on: first, target, logger: logger)
                guard (error as? PostgresError)?.meansUnavailable == true else {
                    database.give(first)
                    throw error
                }
            }
            database.give(first)
            source = target.application
        }
        return (try readers(as: identity, from: source), stale)
    }

    /// Runs `body` on figure readers (``figureReaders(_:refresh:as:service:disclosure:publish:)``),
    /// given the names of projections still behind; the readers are given back after it, and a
    /// failure to read on a replica rests the replica.
    static func withFigureReaders<T>(
        _ database: DatabaseClient, refresh: Bool, as identity: Identity? = nil, service: Bool = false,
        disclosure: DisclosureSettings, publish: Bool = true, _ body: ([Connection], [String]) throws -> T
    ) throws -> T {
        let (readers, stale) = try figureReaders(
            database, refresh: refresh, as: identity, service: service, disclosure: disclosure, publish: publish)
        defer { database.give(readers) }
        do {
            return try body(readers, stale)
        } catch {
            noteReadFailure(error, on: readers, database.target, logger: database.logger)
            throw error
        }
    }

    // MARK: Publishing

    /// Publishes the summaries of every registered authority (with `every`; else of those with
    /// a login or a lead, or of those `among`) that has events since its summaries were last
    /// published (or, with `all`, every one, each computed whole), under the policy the
    /// programme set for it (dfe until one is set): for its logins and leads to read, and for
    /// the programme's figures under a policy. Returns the authorities published.
    public func publishSummaries(all: Bool = false, every: Bool = false, among: [String]? = nil, as identity: Identity) async throws
        -> [String]
    {
        try Access.checkMayOperate(.projectionsRun, for: identity)
        let (database, disclosure) = (database, disclosure)
        return try await blocking {
            try Self.withFigureReaders(database, refresh: true, disclosure: disclosure, publish: false) { readers, _ in
                try Self.publishStale(all: all, among: among, every: every, database, readers: { readers }, disclosure: disclosure)
            }
        }
    }

    /// After a write: brings the projections up to date and publishes the summaries the log
    /// has moved past, so that an authority's login reads what was just recorded. Only where
    /// some authority has a login (one query otherwise). A failure is logged, not thrown: the
    /// records are in the log, and the runner or the next figures publish them.
    func publishAfterWriting() async {
        guard publishesAfterWriting else { return }
        let (database, disclosure) = (database, disclosure)
        do {
            try await database.withConnection(.owner) { owner in
                // (A login that may not publish, such as the application's alone, leaves it to
                // the runner or to the programme's next figures.)
                guard try Publication.mayPublish(on: owner), try !Self.authoritiesWithLogins(on: owner).isEmpty else { return }
                try Self.withFigureReaders(database, refresh: true, disclosure: disclosure) { _, _ in }
            }
        } catch {
            logger.warning("recorded, but the authorities' summaries could not be published yet", metadata: ["error": "\(error)"])
        }
    }

    /// The authorities something reads for: a database login (`reach authority-login`) or an
    /// enabled lead's account.
    static func authoritiesWithLogins(on owner: Connection) throws -> [String] {
        Array(Set(try Publication.authoritiesWithLogins(on: owner)).union(try Self.leadAuthorities(on: owner))).sorted()
    }

    /// The publishing of ``publishSummaries(all:every:among:as:)``, opening the connections to compute on
    /// (`readers`) only when something is to be published: the stale authorities among
    /// `chosen` (by default those with a login, or with `every` every registered authority),
    /// oldest publication first, at most `limit` of them. An authority another process is
    /// publishing at that moment is waited for, or with `skipBusy` left to it.
    static func publishStale(
        all: Bool, among chosen: [String]? = nil, every: Bool = false, limit: Int = .max, skipBusy: Bool = false,
        _ database: DatabaseClient, readers makeReaders: () throws -> [Connection], disclosure: DisclosureSettings
    ) throws -> [String] {
        let owner = try database.open(.owner)
        defer { database.give([owner]) }
        // The figures reflect the log up to the projections' common checkpoint.
        let horizon = try ProjectionEngine.commonCheckpoint(on: owner)
        let candidates = try chosen ?? (every ? Publication.registeredAuthorities(on: owner) : authoritiesWithLogins(on: owner))
        let stale = try staleAuthorities(candidates, all: all, upTo: horizon, on: owner, cache: database.publishing)
        guard !stale.isEmpty else { return [] }
        let readers = try makeReaders()
        var published: [String] = []
        for la in stale where published.count < limit {
            do {
                if try publish(
                    la, position: horizon, everything: all, busy: skipBusy ? .skip : .wait, owner: owner, readers: readers,
                    disclosure: disclosure, publishing: database.publishing, logger: database.logger)
                {
                    published.append(la)
                }
            } catch  where skipBusy {
                // In the background, one authority that cannot be published does not hold up the
                // others; it is tried again next time.
                database.logger.warning("could not publish an authority's summaries", metadata: ["la_id": "\(la)", "error": "\(error)"])
            }
        }
        return published
    }

    /// Of `candidates`, those whose publication is stale, oldest first: never published,
    /// published on an earlier day (a new day can begin a new month), the log holds events
    /// about it since (up to `horizon`), or all of them with `all`.
    static func staleAuthorities(
        _ candidates: [String], all: Bool, upTo horizon: Int64, on owner: Connection, cache: PublicationCache? = nil
    ) throws -> [String] {
        let published = try Publication.lastPublished(candidates, on: owner)
        var positions: [String: Int64] = [:]
        for (la, position, _) in published {
            if let position { positions[la] = max(position, cache?.unchanged(la) ?? 0) }
        }
        // (An export changes no figure.)
        let moved = try EventLog.authoritiesWithEvents(
            after: positions, among: published.map(\.0), upTo: horizon, ignoring: ["summary_exported"], on: owner)
        let stale = published.filter { all || $0.1 == nil || $0.2 || moved.contains($0.0) }
        cache?.noteUnchanged(positions.keys.filter { !moved.contains($0) }, upTo: horizon)
        return stale.sorted { ($0.1 ?? -1) < ($1.1 ?? -1) }.map(\.0)
    }

    /// What publishing an authority does when another process is publishing it already.
    enum Busy { case wait, skip }

    /// Publishes one authority's figures under its policy (dfe until one is set), solved
    /// together with every release of them that has left; built again if a release is made
    /// meanwhile. Only the periods the log's new events can change are computed again
    /// (``Publication/changes(_:after:upTo:on:)``); the rest are the exact rows stored with
    /// the publication before, unless it was made on an earlier day.
    static func publish(
        _ la: String, position: Int64, everything: Bool = false, busy: Busy = .wait, owner: Connection, readers: [Connection],
        disclosure: DisclosureSettings, publishing cache: PublicationCache? = nil, logger: Logger
    ) throws -> Bool {
        // One process at a time publishes an authority (a lock held for the session, given back
        // below); one that waited finds it published, unless the log has moved further.
        let lock = "SELECT pg_advisory_unlock(hashtext('publishing:' || $1))"
        if busy == .skip {
            guard try owner.query("SELECT pg_try_advisory_lock(hashtext('publishing:' || $1))", [la]).decode(Bool.self, row: 0, column: 0)
            else { return false }
        } else {
            _ = try owner.query("SELECT pg_advisory_lock(hashtext('publishing:' || $1))", [la])
        }
        defer { _ = try? owner.query(lock, [la]) }
        let started = ContinuousClock.now
        let stored = try Publication.stored(of: la, on: owner)
        if !everything, let stored, stored.today, stored.position >= position { return false }
        let policy = try Publication.policy(of: la, on: owner)
        var reuse: [String: [Observation]] = [:]
        var first: CalendarDate?
        if let stored {
            // What changed since (the log known to hold nothing about it for a while is not
            // read again); only that can begin the authority's records earlier.
            let changes = try Publication.changes(
                la, after: max(stored.position, cache?.unchanged(la) ?? 0), upTo: position, on: owner)
            if !everything { reuse = changes.unchanged(stored.raw) }
            first = stored.first.map { [$0, changes.earliest].compactMap { $0 }.min()! }
        }
        if first == nil { first = try Publication.firstDate(of: la, on: owner) }
        while true {
            let released = try cache?.releases(of: la, on: owner) ?? Publication.releases(of: la, on: owner)
            let built = try Publication.buildAll(
                la: la, first: first, today: .today, policies: [disclosure.policy(policy)], released: released, reuse: reuse, on: readers)
            do {
                try Publication.store(
                    la: la, tables: built.tables, truth: built.truth, raw: built.raw, first: first, position: position,
                    released: released.count, on: owner)
            } catch is PublicationRaced {
                continue
            }
            logger.info(
                "published summaries",
                metadata: [
                    "la_id": "\(la)", "policy": "\(policy)", "periods": "\(built.tables[policy]?.count ?? 0)", "computed": "\(built.computed)",
                    "releases": "\(released.count)", "log_position": "\(position)",
                    "seconds": "\(String(format: "%.2f", (ContinuousClock.now - started) / .milliseconds(1) / 1000))",
                ])
            return true
        }
    }

    // MARK: Exports

    /// A local authority's summary for a period, with `policy` (dfe or nhs) applied: headline
    /// reach, pilot progress by pilot, sessions by kind and by month, attendances, staff
    /// trained, survey change, context pathways and locations of concern, as ``Publication``
    /// publishes it. The export is recorded in the log as a `summary_exported` event naming
    /// the policy and the number of rows released before `deliver` is given the text (CSV or
    /// JSON, the policy named on every row): for a local authority's login, the database hands
    /// over the published summary and records it in one statement
    /// (`authority.export_summary`), so no summary leaves unrecorded and the record is not the
    /// client's word.
    public func exportSummary(
        la: String, period: Period, format: TidyFormat, policy: DisclosurePolicy.Name? = nil, as identity: Identity,
        deliver: @escaping @Sendable (String) throws -> Void
    ) async throws -> SummaryExport {
        guard format != .table else { throw RequestError("an export is csv or json") }
        return try await exportSummaryRows(la: la, period: period, format: format == .csv ? .csv : .json, policy: policy, as: identity) {
            rows, policy in
            try deliver(try Tidy.render(rows, format: format, policy: policy, extra: ["la_id": la]))
        }
    }

    /// A local authority's summary as ``exportSummary(la:period:format:policy:as:deliver:)``
    /// gives it, for a file made from its rows (a spreadsheet, a printable report, a PDF):
    /// recorded as an export in `format` before `deliver` is given the rows and the policy
    /// they are under (the authority's: `policy` is what was asked for, nil for the authority's).
    public func exportSummaryRows(
        la: String, period: Period, format: ExportFormat, policy asked: DisclosurePolicy.Name? = nil, as identity: Identity,
        deliver: @escaping @Sendable ([Observation], DisclosurePolicy.Name) throws -> Void
    ) async throws -> SummaryExport {
        guard asked != DisclosurePolicy.Name.none else {
            throw AccessDenied("an export leaves the programme: its policy is dfe or nhs, not none")
        }
        try Access.checkMayExport(la: la, for: identity)
        let grant = try Access.figures(MetricQuery(period: period, la: la), policy: asked, publish: true, for: identity)
        let (database, disclosure, refresh, cache, service) = (database, disclosure, refreshesFigures, figuresCache, servesRequests)
        if grant.schema == "authority" {
            return try await database.withConnection(.request(identity, reading: true)) { connection in
                let policy =
                    try Self.authorityPolicy(la: la, asked: asked, inForce: try Publication.publishedPolicy(on: connection)) ?? grant.policy
                guard
                    let (rows, position) = try Publication.exportPublished(
                        period: period.label, policy: policy.rawValue, format: format.rawValue, on: connection)
                else {
                    throw RequestError(Self.unpublished(la, period))
                }
                try deliver(rows, policy)
                return SummaryExport(laID: la, period: period.label, policy: policy.rawValue, rows: rows.count, recordedAtPosition: position)
            }
        }
        return try await database.withConnection(.request(identity, reading: false)) { writer in
            guard try EventLog.streamVersion(Entity.authority.stream(la), on: writer) > 0 else {
                throw NotFound("no local authority '\(la.prefix(60))' is registered; the figures by authority list those that have figures")
            }
            let policy = try Self.authorityPolicy(la: la, asked: asked, inForce: try Publication.policy(of: la, on: writer)) ?? grant.policy
            // (The figures of what was recorded a moment before, as for metrics.)
            if refresh { _ = try database.withOpened(.owner) { try ProjectionEngine(logger: database.logger).waitUntilCaughtUp(on: $0) } }
            let tables = try database.withOpened(.owner) { owner in
                try Self.releasedTables(
                    la, periods: [period.label], policy: policy, how: "exported", publishFirst: refresh, owner: owner, database: database,
                    disclosure: disclosure
                ).tables
            }
            guard let published = tables[period.label] else {
                throw UnpublishedPeriod(Publication.notPublished(period, la: la, first: nil, today: .today))
            }
            let position = try Self.recordExport(
                la: la, period: period, format: format, policy: policy, rows: published.count,
                as: identity, on: writer)
            try deliver(published, policy)
            return SummaryExport(laID: la, period: period.label, policy: policy.rawValue, rows: published.count, recordedAtPosition: position)
        }
    }

    /// Records the export in the log (`summary_exported`) before the summary is delivered,
    /// through the read side (``Publication/recordExport(la:period:format:policy:rows:actor:on:)``):
    /// a summary whose export cannot be recorded is not delivered.
    static func recordExport(
        la: String, period: Period, format: ExportFormat, policy: DisclosurePolicy.Name, rows: Int,
        as identity: Identity, on connection: Connection
    ) throws -> Int64 {
        try Publication.recordExport(
            la: la, period: period.label, format: format.rawValue, policy: policy.rawValue, rows: rows, actor: identity.name, on: connection)
    }
}
