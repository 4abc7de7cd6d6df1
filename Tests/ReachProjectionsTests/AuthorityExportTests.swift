import Foundation
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Testing

/// What a local authority's login can make `reach.record_authority_export` do: record its own
/// exports, and nothing else.
@Suite("an authority's export record")
struct AuthorityExportTests {
    @Test("an authority login cannot probe ids, take an id staff need, or write anything but an export")
    func attacks() throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        let login = "la_probe_\(UUID().uuidString.prefix(8).lowercased())"
        try owner.executeScript("CREATE ROLE \(login) LOGIN PASSWORD 'la-secret' IN ROLE reach_authority")
        _ = try owner.execute("INSERT INTO reach.authority_logins (login, la_id) VALUES ($1, 'northvale')", [login])
        // Another authority's record, under an id the authority's login might guess.
        let staff = try db.applicationConnection()
        _ = try EventLog.append([NewEvent(id: EventLog.recordEventID("act-s1"), streamID: "activities:x", type: "activity_delivered",
                                          data: #"{"la_id":"southmere"}"#, authorityID: "southmere")], on: staff)
        let authority = try Connection(configuration: db.owner.overriding(["user": login, "password": "la-secret"]))
        let today = PostgresDate.today
        func export(_ id: String, _ data: String, _ date: PostgresDate? = PostgresDate.today) -> String {
            do {
                let position: Int64 = try authority.query("SELECT reach.record_authority_export($1, $2::jsonb, $3)", [id, PostgresJSONB(data), date]).decode(row: 0, column: 0)
                return "appended at \(position)"
            } catch let error as PostgresError {
                return "\(error.sqlState ?? "") \(error.debugDescription)"
            } catch { return "\(error)" }
        }
        let good = #"{"la_id":"northvale","period":"2024/25","format":"csv","policy":"dfe","rows":12,"date":"\#(today)"}"#

        // Another authority's record id answers as any new id does: nothing is revealed.
        #expect(export("act-s1", good).hasPrefix("appended"))
        // An id staff later use stays theirs.
        #expect(export("act-s2", good).hasPrefix("appended"))
        let staffRecord = try EventLog.append([NewEvent(id: EventLog.recordEventID("act-s2"), streamID: "activities:y", type: "activity_delivered",
                                                        data: #"{"la_id":"northvale"}"#, authorityID: "northvale")], on: staff)[0]
        #expect(!staffRecord.duplicate)
        // Anything but an export's fields, sizes and day is refused, and nothing is written.
        let before: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        for (id, data, date) in [
            ("e1", good.replacingOccurrences(of: #""rows":12"#, with: #""rows":12,"note":"any text""#), today),
            ("e2", good, PostgresDate(year: 1900, month: 1, day: 1)),
            ("e3", good.replacingOccurrences(of: "2024/25", with: String(repeating: "x", count: 10_000)), today),
            ("e4", good.replacingOccurrences(of: #""rows":12"#, with: #""rows":"12""#), today),
            ("e5", good.replacingOccurrences(of: #""policy":"dfe""#, with: #""policy":"none""#), today),
            (String(repeating: "i", count: 101), good, today),
            ("e6", good.replacingOccurrences(of: "northvale", with: "southmere"), today),
        ] as [(String, String, PostgresDate?)] {
            let answer = export(id, data, date)
            #expect(answer.hasPrefix("22023") || answer.hasPrefix("42501"), "\(id): \(answer)")
        }
        #expect(try owner.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == before)
        // The function belongs to a role that can append to the log and nothing more.
        let function = try owner.query("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'record_authority_export'")
        #expect(try function.decode(String.self, row: 0, column: 0) == "reach_exporter")
    }

    @Test("no statistics view or catalogue column tells an authority login how many rows the projections hold")
    func statisticsClosed() throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        try ProjectionEngine().install(on: owner)
        let login = "la_stats_\(UUID().uuidString.prefix(8).lowercased())"
        try owner.executeScript("CREATE ROLE \(login) LOGIN PASSWORD 'la-secret' IN ROLE reach_authority")
        _ = try owner.execute("INSERT INTO reach.authority_logins (login, la_id) VALUES ($1, 'northvale')", [login])
        let authority = try Connection(configuration: db.owner.overriding(["user": login, "password": "la-secret"]))
        for probe in [
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE schemaname = 'proj_contexts'",
            "SELECT n_tup_ins FROM pg_stat_all_tables LIMIT 1",
            "SELECT heap_blks_read FROM pg_statio_user_tables LIMIT 1",
            "SELECT reltuples FROM pg_class WHERE relnamespace = 'proj_contexts'::regnamespace",
            "SELECT pg_stat_get_live_tuples(oid) FROM pg_class WHERE relnamespace = 'proj_contexts'::regnamespace",
        ] {
            let error = #expect(throws: PostgresError.self, "\(probe)") { _ = try authority.query(probe) }
            #expect(error?.sqlState == "42501", "\(probe)")
        }
        // Names can still be looked up; the owner still sees the statistics.
        #expect(try authority.query("SELECT count(*) FROM pg_class WHERE relname = 'pg_class'").decode(Int.self, row: 0, column: 0) == 1)
        #expect(try owner.query("SELECT count(*) FROM pg_stat_user_tables").decode(Int.self, row: 0, column: 0) > 0)
    }
}
