import Foundation
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Testing

/// What a local authority's login can make `authority.export_summary` and
/// `authority.published` do: hand over its own authority's published summaries, each export
/// recorded with the policy and row count as published, and nothing else.
@Suite("an authority's export record")
struct AuthorityExportTests {
    @Test("an authority login exports its published summaries only, recorded as published, never as its client says")
    func attacks() throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        try ProjectionEngine().install(on: owner)
        let login = "la_probe_\(UUID().uuidString.prefix(8).lowercased())"
        try owner.executeScript("CREATE ROLE \(login) LOGIN PASSWORD 'la-secret' IN ROLE reach_authority")
        _ = try owner.execute("INSERT INTO reach.authority_logins (login, la_id) VALUES ($1, 'northvale')", [login])
        // Two authorities' published summaries, as the application writes them.
        let application = try db.applicationConnection()
        let rows = [
            Observation(
                metric: "sessions", period: "2024/25", scope: "all", dimension: "total", category: "total", statistic: "sessions", value: 12,
                sensitivity: .count),
            Observation(
                metric: "attendances", period: "2024/25", scope: "all", dimension: "audience", category: "pupils", statistic: "attendances",
                value: nil, symbol: "c", sensitivity: .children),
        ]
        try Publication.store(la: "northvale", tables: [.dfe: ["2024/25": rows]], truth: [:], position: 7, released: 0, on: application)
        try Publication.store(
            la: "southmere", tables: [.dfe: ["2024/26": rows, "2024/25": rows + rows]], truth: [:], position: 7, released: 0, on: application)
        let authority = try Connection(configuration: db.owner.overriding(["user": login, "password": "la-secret"]))
        func export(_ period: String, _ policy: String = "dfe", _ format: String = "csv") -> String {
            do {
                let result = try authority.query(
                    "SELECT rows, recorded_at_position, figures::text FROM authority.export_summary($1, $2, $3)", [period, policy, format])
                return "exported \(try result.decode(Int.self, row: 0, column: 0)) rows at \(try result.decode(Int64.self, row: 0, column: 1))"
            } catch let error as PostgresError {
                return "\(error.sqlState ?? "") \(error.debugDescription)"
            } catch { return "\(error)" }
        }

        // Its own summary comes back with its export recorded: the policy and the row count
        // are the published ones.
        #expect(export("2024/25").hasPrefix("exported 2 rows"), "\(export("2024/25"))")
        let recorded = try owner.query(
            """
            SELECT data ->> 'la_id', data ->> 'period', data ->> 'policy', (data ->> 'rows')::int, metadata ->> 'actor', authority_id
            FROM reach.events WHERE event_type = 'summary_exported'
            """)
        #expect(recorded.rowCount == 1)
        #expect(try recorded.decode(String.self, row: 0, column: 0) == "northvale")
        #expect(try recorded.decode(String.self, row: 0, column: 1) == "2024/25")
        #expect(try recorded.decode(String.self, row: 0, column: 2) == "dfe")
        #expect(try recorded.decode(Int.self, row: 0, column: 3) == 2)
        #expect(try recorded.decode(String.self, row: 0, column: 4) == login)
        #expect(try recorded.decode(String.self, row: 0, column: 5) == "northvale")

        // Anything else is refused, and nothing is written: another authority's period, an
        // unpublished or invented period, no policy, a policy or format of its own making.
        let before: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        for (period, policy, format, code) in [
            ("2024/26", "dfe", "csv", "P0002"), ("2024/25", "nhs", "csv", "P0002"), (String(repeating: "x", count: 10_000), "dfe", "csv", "P0002"),
            ("2024/25", "none", "csv", "22023"), ("2024/25", "dfe", "xlsx; note", "22023"),
        ] {
            let answer = export(period, policy, format)
            #expect(answer.hasPrefix(code), "\(period.prefix(20)) \(policy) \(format): \(answer)")
        }
        #expect(try owner.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == before)
        // It reads its own published summaries and no one else's; the table itself, the old
        // way of recording by the client's word, and the log are closed to it.
        #expect(try authority.query("SELECT count(*) FROM authority.published('2024/25', 'dfe')").decode(Int.self, row: 0, column: 0) == 1)
        #expect(try authority.query("SELECT count(*) FROM authority.published('2024/26', 'dfe')").decode(Int.self, row: 0, column: 0) == 0)
        for probe in [
            "SELECT count(*) FROM publication.summaries", "INSERT INTO publication.summaries VALUES ('northvale', 'x', 'dfe', '[]', 0, 0)",
            "SELECT count(*) FROM reach.events",
        ] {
            let error = #expect(throws: PostgresError.self, "\(probe)") { _ = try authority.query(probe) }
            #expect(error?.sqlState == "42501", "\(probe): \(String(describing: error))")
        }
        let gone = #expect(throws: PostgresError.self) {
            _ = try authority.query("SELECT reach.record_authority_export('e1', '{\"la_id\":\"northvale\"}', current_date)")
        }
        // (gone, and the login may not even look names up in schema reach any more)
        #expect(gone?.sqlState == "42501")
        let unknown = #expect(throws: PostgresError.self) { _ = try authority.query("SELECT reach.login_authority()") }
        #expect(unknown?.sqlState == "42501")
        #expect(try authority.query("SELECT authority.login_authority()").decode(String.self, row: 0, column: 0) == "northvale")
        // The functions that hand summaries over belong to a role that can read what is
        // published and append to the log (login_authority, which reads the logins, to the owner).
        let owners = try owner.query(
            "SELECT DISTINCT pg_get_userbyid(proowner) FROM pg_proc WHERE pronamespace = 'authority'::regnamespace AND proname <> 'login_authority'")
        #expect(owners.rowCount == 1)
        #expect(try owners.decode(String.self, row: 0, column: 0) == "reach_exporter")
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
