import Foundation
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Testing

/// Who may do what, for every role against every object of Reach's schemas, as the server
/// itself answers (`has_*_privilege`): each cell allowed or refused as designed.
@Suite("the privilege matrix")
struct PrivilegeMatrixTests {
    /// The roles, by what they are: the application, a researcher, a local authority's login,
    /// programme staff's requests to the service, and a login with no role of Reach's at all.
    static let roles = ["reach_app", "reach_researcher", "reach_authority", "reach_staff", "nobody"]

    @Test("every role can do exactly what it is meant to, on every function, table, view and sequence")
    func matrix() throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        try owner.executeScript(
            """
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nobody') THEN CREATE ROLE nobody LOGIN; END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
            """)
        try ProjectionEngine().install(on: owner)

        // What each role may execute in schema reach (trigger functions run for whoever fires
        // the trigger, without being granted).
        let appFunctions: Set<String> = [
            "append_event", "append_events", "append_staged", "chain", "chain_step", "draw_positions", "event_digest_input",
            "event_hash",
            "first_occurred_on", "horizon_settled", "log_horizon", "log_lag", "log_range", "recent_records", "record_event_id",
            "request_authorities",
            "system_record_types", "xid_precedes",
        ]
        let expectedFunctions: [String: Set<String>] = [
            "reach_app": appFunctions,
            // (where an authority's standard periods begin)
            "reach_researcher": ["first_occurred_on"],
            // (it calls the authority schema's functions only, and may not look names up in reach)
            "reach_authority": [],
            // (what the scoped views call to limit their rows; the records staff may correct)
            "reach_staff": ["first_occurred_on", "recent_records", "request_authorities"],
            "nobody": [],
        ]
        let functions = try owner.query(
            """
            SELECT p.proname, r.role, bool_or(has_function_privilege(r.role, p.oid, 'EXECUTE'))
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, unnest($1::text[]) AS r(role)
            WHERE n.nspname = 'reach' GROUP BY 1, 2 ORDER BY 1, 2
            """, [PostgresArray(Self.roles)]
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: Bool.self)) }
        #expect(!functions.isEmpty)
        for (function, role, allowed) in functions {
            let meant = expectedFunctions[role]!.contains(function)
            #expect(allowed == meant, "\(role) \(allowed ? "may" : "may not") execute reach.\(function)")
        }

        // In schema authority, an authority's login may read its published summaries and
        // export them; nobody else may call them.
        let authorityFunctions = try owner.query(
            """
            SELECT p.proname, r.role, bool_or(has_function_privilege(r.role, p.oid, 'EXECUTE'))
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, unnest($1::text[]) AS r(role)
            WHERE n.nspname IN ('authority', 'publication') GROUP BY 1, 2 ORDER BY 1, 2
            """, [PostgresArray(Self.roles)]
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: Bool.self)) }
        // The application asks which authority a login reads for, and records the exports it
        // hands over; who is exporting is asked by the export functions' owner alone.
        let readSideFunctions: [String: Set<String>] = [
            "export_summary": ["reach_authority"], "published": ["reach_authority"], "login_authority": ["reach_authority", "reach_app"],
            "append_export": ["reach_app"], "request_actor": [], "authority_policy": ["reach_app"], "set_policy": ["reach_app"],
            "published_policy": ["reach_authority"], "release": ["reach_app"],
        ]
        #expect(Set(authorityFunctions.map(\.0)) == Set(readSideFunctions.keys))
        for (function, role, allowed) in authorityFunctions {
            #expect(allowed == readSideFunctions[function]!.contains(role), "\(role) \(allowed ? "may" : "may not") execute \(function)")
        }
        let schemaUsage = try owner.query(
            """
            SELECT n.nspname, r.role FROM pg_namespace n, unnest($1::text[]) AS r(role)
            WHERE n.nspname IN ('reach', 'authority', 'publication') AND has_schema_privilege(r.role, n.oid, 'USAGE') ORDER BY 1, 2
            """, [PostgresArray(Self.roles)]
        ).mapRows { "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: String.self))" }
        #expect(
            schemaUsage == [
                "authority reach_app", "authority reach_authority", "publication reach_app", "reach reach_app", "reach reach_researcher",
                "reach reach_staff",
            ])

        // Tables, views and sequences: SELECT / INSERT / UPDATE / DELETE / TRUNCATE, per schema.
        func meant(_ role: String, _ schema: String, _ table: String, _ privilege: String) -> Bool {
            switch (role, schema) {
            case ("reach_app", "reach"):
                switch (table, privilege) {
                case ("events", "SELECT"), ("events", "INSERT"): return true
                // (and UPDATE of a head's version, hash and time only: checked below)
                case ("streams", "SELECT"), ("streams", "INSERT"): return true
                case ("streams_appended", "INSERT"): return true
                case ("sign_in_devices", "SELECT"), ("sign_in_devices", "INSERT"), ("sign_in_devices", "UPDATE"), ("sign_in_devices", "DELETE"):
                    return true
                // Positions are drawn by the log's functions only (reach.draw_positions); the
                // application reads the sequence's last value, and what its transaction drew.
                case ("event_position", "SELECT"), ("position_draws", "SELECT"): return true
                // Failed password checks, counted for the limits on guessing; kept a day.
                case ("sign_in_failures", "SELECT"), ("sign_in_failures", "INSERT"), ("sign_in_failures", "DELETE"): return true
                // The service's accounts and tokens: made, read and disabled, never deleted.
                case ("accounts", "SELECT"), ("accounts", "INSERT"), ("accounts", "UPDATE"): return true
                case ("api_tokens", "SELECT"), ("api_tokens", "INSERT"), ("api_tokens", "UPDATE"): return true
                case ("sessions", "SELECT"), ("sessions", "INSERT"), ("sessions", "UPDATE"): return true
                // Import jobs: their progress and outcome, never deleted.
                case ("import_jobs", "SELECT"), ("import_jobs", "INSERT"), ("import_jobs", "UPDATE"): return true
                default: return false
                }
            case ("reach_app", "research"), ("reach_researcher", "research"):
                return privilege == "SELECT"
            case ("reach_app", "publication"):
                // The application publishes authorities' summaries; nobody else reads them but
                // through the authority functions. What has been released is kept: never
                // updated or deleted.
                return (table == "releases" ? ["SELECT", "INSERT"] : ["SELECT", "INSERT", "DELETE"]).contains(privilege)
            case ("reach_app", "projections"):
                return table == "state" && privilege == "SELECT"
            case ("reach_staff", "scoped"):
                return privilege == "SELECT"
            default:
                return false
            }
        }
        let relations = try owner.query(
            """
            SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'v', 'm', 'S', 'p') AND (n.nspname IN ('reach', 'projections', 'research', 'scoped', 'authority', 'publication') OR n.nspname LIKE 'proj\\_%')
            ORDER BY 1, 2
            """
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: String.self)) }
        #expect(relations.count > 20)
        var cells = 0
        for (schema, table, kind) in relations {
            let privileges = kind == "S" ? ["SELECT", "USAGE", "UPDATE"] : ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"]
            for role in Self.roles {
                for privilege in privileges {
                    let function = kind == "S" ? "has_sequence_privilege" : "has_table_privilege"
                    let allowed: Bool = try owner.query("SELECT \(function)($1, $2, $3)", ["\(role)", "\"\(schema)\".\"\(table)\"", privilege])
                        .decode(row: 0, column: 0)
                    #expect(
                        allowed == meant(role, schema, table, privilege), "\(role) \(allowed ? "may" : "may not") \(privilege) \(schema).\(table)")
                    cells += 1
                }
            }
        }
        #expect(cells > 400)
        // A head's version, hash and time are the application's to move; which stream it heads is not.
        for (column, meant) in [("version", true), ("last_hash", true), ("last_recorded_at", true), ("stream_id", false)] {
            let allowed: Bool = try owner.query("SELECT has_column_privilege('reach_app', 'reach.streams', $1, 'UPDATE')", [column]).decode(
                row: 0, column: 0)
            #expect(allowed == meant, "reach_app \(allowed ? "may" : "may not") UPDATE reach.streams.\(column)")
        }

        // Side channels of the server itself: sizes of tables and databases, database-wide
        // statistics, large objects and temporary tables are the owner's alone (and, for
        // temporary tables, the application's, whose bulk path stages chunks in one).
        let people = ["reach_researcher", "reach_authority", "reach_staff", "nobody"]
        let closedFunctions = try owner.query(
            """
            SELECT p.oid::regprocedure::text, r.role, has_function_privilege(r.role, p.oid, 'EXECUTE')
            FROM pg_proc p, unnest($1::text[]) AS r(role)
            WHERE p.pronamespace = 'pg_catalog'::regnamespace
              AND p.proname IN ('pg_relation_size', 'pg_total_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_database_size',
                                'pg_tablespace_size', 'lo_creat', 'lo_create', 'lo_from_bytea', 'lo_import')
            """, [PostgresArray(people + ["reach_app"])]
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: Bool.self)) }
        #expect(closedFunctions.count >= 5 * 12)
        for (function, role, allowed) in closedFunctions {
            #expect(!allowed, "\(role) may execute \(function)")
        }
        for view in ["pg_stat_database", "pg_stat_database_conflicts", "pg_stat_user_tables", "pg_statio_user_tables"] {
            for role in people {
                let allowed: Bool = try owner.query("SELECT has_table_privilege($1, $2, 'SELECT')", [role, "pg_catalog.\(view)"]).decode(
                    row: 0, column: 0)
                #expect(!allowed, "\(role) may read \(view)")
            }
        }
        for role in Self.roles {
            let allowed: Bool = try owner.query("SELECT has_database_privilege($1, current_database(), 'TEMPORARY')", [role]).decode(
                row: 0, column: 0)
            #expect(allowed == (role == "reach_app"), "\(role) \(allowed ? "may" : "may not") make temporary tables")
        }
    }

    @Test("a researcher's and an authority's logins cannot learn a table's size, make large objects or temporary tables")
    func sideChannels() throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        try ProjectionEngine().install(on: owner)
        let suffix = UUID().uuidString.prefix(8).lowercased()
        for (login, role) in [("alex_\(suffix)", "reach_researcher"), ("lead_\(suffix)", "reach_authority")] {
            try owner.executeScript("CREATE ROLE \(login) LOGIN PASSWORD 'probe-secret' IN ROLE \(role)")
            let connection = try Connection(configuration: db.owner.overriding(["user": login, "password": "probe-secret"]))
            for sql in [
                "SELECT pg_relation_size('reach.events')", "SELECT pg_total_relation_size('reach.events')",
                "SELECT pg_table_size('reach.events')", "SELECT pg_indexes_size('reach.events')",
                "SELECT pg_database_size(current_database())", "SELECT pg_tablespace_size('pg_default')",
                "SELECT tup_inserted FROM pg_stat_database", "SELECT lo_from_bytea(0, 'x'::bytea)", "SELECT lo_creat(-1)",
                "SELECT lo_create(0)", "CREATE TEMP TABLE spy (x int)",
            ] {
                let error = #expect(throws: PostgresError.self, "\(login): \(sql)") { try connection.execute(sql) }
                #expect(error?.sqlState == "42501", "\(login): \(sql): \(String(describing: error))")
            }
        }
    }
}
