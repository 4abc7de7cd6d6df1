import Foundation
import Logging
import ReachCalendar
import ReachPostgres
import ReachProjections
import ReachTestSupport
import ServiceLifecycle
import Testing

@testable import ReachApp

/// Publication off the request path: the projection runner publishes every authority in the
/// background, computing again only the periods new records can change, and a request reads
/// the latest publication with the log position it reflects.
@Suite("publishing every authority in the background", .serialized)
struct PublishingTests {
    static let admin = Identity(name: "ops", role: .admin)
    static let researcher = Identity(name: "ana", role: .researcher)

    /// An activity of `la`'s pilot at one of its schools on `date`, with `pupils` in key stage 3.
    static func activity(_ id: String, la: String, school: String, date: CalendarDate, pupils: Int) -> String {
        #"{"type":"activity_delivered","id":"\#(id)","data":\#(activityData(la: la, school: school, date: date, pupils: pupils))}"#
    }

    /// The data of ``activity(_:la:school:date:pupils:)``.
    static func activityData(la: String, school: String, date: CalendarDate, pupils: Int) -> String {
        #"{"pilot_id":"\#(la)-pilot","la_id":"\#(la)","school_id":"\#(school)","kind":"assembly","date":"\#(date)","duration_minutes":45,"mode":"in_person","delivered_by":{"team":"CS schools team"},"attendance":{"pupils":{"ks3":\#(pupils),"ks4":0},"staff":{"teaching":3}}}"#
    }

    /// One of `la`'s schools with activities.
    static func school(of la: String, _ db: TestDatabase) throws -> String {
        let owner = try Connection(configuration: db.owner)
        return try owner.query("SELECT min(school_id) FROM research.activities WHERE la_id = $1 AND school_id IS NOT NULL", [la]).decode(
            row: 0, column: 0)
    }

    /// `la`'s publication as stored: each period's figures and exact rows.
    static func stored(_ la: String, _ db: TestDatabase) throws -> [String] {
        try Connection(configuration: db.owner).query(
            "SELECT period || ' ' || figures::text || ' ' || coalesce(raw::text, '') FROM publication.summaries WHERE la_id = $1 ORDER BY period",
            [la]
        ).mapRows { try $0.decode(0, as: String.self) }
    }

    @Test("each publication computes again only what new records change, and is what a publication computed whole would be")
    func incrementalEqualsWhole() async throws {
        let (db, app) = try await ServerTests.demo()
        let la = "northvale"
        _ = try await app.publishSummaries(among: [la], as: Self.admin)
        let school = try Self.school(of: la, db)
        let today = CalendarDate.today
        let owner = try Connection(configuration: db.owner)

        // A record of today changes the periods containing today, and no other.
        let first = try await app.record(
            Self.activity("publishing-today", la: la, school: school, date: today, pupils: 3), source: "test", as: Self.admin)
        let position = try #require(first.first?.position)
        let kept = try #require(try Publication.stored(of: la, on: owner))
        let changes = try Publication.changes(la, after: kept.position, upTo: position, on: owner)
        #expect(!changes.everything && changes.from == nil && changes.points == [today] && changes.earliest == today, "\(changes)")
        let unchanged = Set(changes.unchanged(kept.raw).keys)
        for label in kept.raw.keys {
            let period = try Period.parse(label).get()
            #expect(unchanged.contains(label) == !(period.start <= today && today <= period.end), "\(label)")
        }

        // After each change, the publication made from the one before equals one made whole.
        let late = CalendarDate(year: 2024, month: 10, day: 8)
        let steps = [
            Self.activity("publishing-today", la: la, school: school, date: today, pupils: 3),
            Self.activity("publishing-late", la: la, school: school, date: late, pupils: 2),
            #"{"type":"event_corrected","id":"publishing-correction","data":{"record_id":"publishing-late","reason":"the date was wrong","data":"#
                + Self.activityData(la: la, school: school, date: CalendarDate(year: 2025, month: 2, day: 3), pupils: 4) + "}}",
            #"{"type":"event_withdrawn","id":"publishing-withdrawal","data":{"record_id":"publishing-late","reason":"recorded twice"}}"#,
        ]
        for (index, step) in steps.enumerated() {
            if index > 0 {
                let results = try await app.record(step, source: "test", as: Self.admin)
                #expect(results.first?.status == "accepted", "\(results)")
            }
            #expect(try await app.publishSummaries(among: [la], as: Self.admin) == [la])
            let incremental = try Self.stored(la, db)
            _ = try await app.publishSummaries(all: true, among: [la], as: Self.admin)
            #expect(try Self.stored(la, db) == incremental, "step \(index + 1)")
        }
    }

    @Test("a request reads the latest publication, never publishes; the runner publishes every authority, one without a login too")
    func runnerPublishes() async throws {
        let (db, built) = try await ServerTests.demo()
        // An authority no login or lead reads for.
        let owner = try Connection(configuration: db.owner)
        _ = try ProjectionEngine(logger: built.logger).waitUntilCaughtUp(on: owner)
        let la: String = try owner.query(
            "SELECT la_id FROM research.activities WHERE la_id <> 'northvale' GROUP BY la_id ORDER BY count(*) DESC, la_id LIMIT 1"
        ).decode(row: 0, column: 0)
        #expect(try !ReachApplication.authoritiesWithLogins(on: owner).contains(la))
        // (Every authority published: the runner publishes one never published before one behind.)
        _ = try await built.publishSummaries(every: true, as: Self.admin)
        let app = built.with(.service(runner: true, figuresSeconds: 0, idleConnections: 4))
        let query = MetricQuery(period: try Period.parse("2024-2029").get(), la: la, metrics: [.sessions])
        let before = try await app.metrics(query, policy: .dfe, as: Self.researcher)
        let published = try #require(before.position)

        let school = try Self.school(of: la, db)
        let recorded = try await app.record(
            Self.activity("publishing-runner", la: la, school: school, date: .today, pupils: 40), source: "test", as: Self.admin)
        let position = try #require(recorded.first?.position)
        // With no runner running, the request answers from the publication there is.
        let unchanged = try await app.metrics(query, policy: .dfe, as: Self.researcher)
        #expect(unchanged.position == published)
        #expect(unchanged.rows == before.rows)

        // The runner publishes it in the background.
        var logger = Logger(label: "reach.test")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [try app.projectionRunner(as: Self.admin)], logger: logger))
        let running = Task { try await group.run() }
        var after = unchanged
        for _ in 0..<600 where (after.position ?? 0) < position {
            try await Task.sleep(for: .milliseconds(50))
            after = try await app.metrics(query, policy: .dfe, as: Self.researcher)
        }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        #expect((after.position ?? 0) >= position)
        func sessions(_ figures: Figures) -> Double? {
            figures.rows.first { $0.metric == "sessions" && $0.dimension == "total" && $0.statistic == "sessions" }?.value
        }
        #expect(sessions(after) == (sessions(before) ?? 0) + 1, "\(after.rows.prefix(3))")
    }
}
