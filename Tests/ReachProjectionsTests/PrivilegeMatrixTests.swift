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
        try owner.executeScript("""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nobody') THEN CREATE ROLE nobody LOGIN; END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
            """)
        try ProjectionEngine().install(on: owner)

        // What each role may execute in schema reach (trigger functions run for whoever fires
        // the trigger, without being granted).
        let appFunctions: Set<String> = [
            "append_event", "append_events", "append_staged", "chain", "chain_step", "event_digest_input", "event_hash",
            "first_occurred_on", "horizon_settled", "log_horizon", "log_lag", "log_range", "login_authority", "recent_records", "record_event_id", "request_authorities", "xid_precedes",
        ]
        let expectedFunctions: [String: Set<String>] = [
            "reach_app": appFunctions,
            // (where an authority's standard periods begin)
            "reach_researcher": ["first_occurred_on"],
            "reach_authority": ["login_authority"],
            // (what the scoped views call to limit their rows; the records staff may correct)
            "reach_staff": ["first_occurred_on", "recent_records", "request_authorities"],
            "nobody": [],
        ]
        let functions = try owner.query("""
            SELECT p.proname, r.role, bool_or(has_function_privilege(r.role, p.oid, 'EXECUTE'))
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, unnest($1::text[]) AS r(role)
            WHERE n.nspname = 'reach' GROUP BY 1, 2 ORDER BY 1, 2
            """, [PostgresArray(Self.roles)]).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: Bool.self)) }
        #expect(!functions.isEmpty)
        for (function, role, allowed) in functions {
            let meant = expectedFunctions[role]!.contains(function)
            #expect(allowed == meant, "\(role) \(allowed ? "may" : "may not") execute reach.\(function)")
        }

        // In schema authority, an authority's login may read its published summaries and
        // export them; nobody else may call them.
        let authorityFunctions = try owner.query("""
            SELECT p.proname, r.role, bool_or(has_function_privilege(r.role, p.oid, 'EXECUTE'))
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, unnest($1::text[]) AS r(role)
            WHERE n.nspname IN ('authority', 'publication') GROUP BY 1, 2 ORDER BY 1, 2
            """, [PostgresArray(Self.roles)]).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: Bool.self)) }
        #expect(Set(authorityFunctions.map(\.0)) == ["export_summary", "published"])
        for (function, role, allowed) in authorityFunctions {
            #expect(allowed == (role == "reach_authority"), "\(role) \(allowed ? "may" : "may not") execute authority.\(function)")
        }

        // Tables, views and sequences: SELECT / INSERT / UPDATE / DELETE / TRUNCATE, per schema.
        func meant(_ role: String, _ schema: String, _ table: String, _ privilege: String) -> Bool {
            switch (role, schema) {
            case ("reach_app", "reach"):
                switch (table, privilege) {
                case ("events", "SELECT"), ("events", "INSERT"): return true
                case ("streams", "SELECT"), ("streams", "INSERT"), ("streams", "UPDATE"): return true
                case ("event_position", "SELECT"), ("event_position", "USAGE"): return true
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
                // through the authority functions.
                return ["SELECT", "INSERT", "DELETE"].contains(privilege)
            case ("reach_app", "projections"):
                return table == "state" && privilege == "SELECT"
            case ("reach_staff", "scoped"):
                return privilege == "SELECT"
            default:
                return false
            }
        }
        let relations = try owner.query("""
            SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'v', 'm', 'S', 'p') AND (n.nspname IN ('reach', 'projections', 'research', 'scoped', 'authority', 'publication') OR n.nspname LIKE 'proj\\_%')
            ORDER BY 1, 2
            """).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: String.self)) }
        #expect(relations.count > 20)
        var cells = 0
        for (schema, table, kind) in relations {
            let privileges = kind == "S" ? ["SELECT", "USAGE", "UPDATE"] : ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"]
            for role in Self.roles {
                for privilege in privileges {
                    let function = kind == "S" ? "has_sequence_privilege" : "has_table_privilege"
                    let allowed: Bool = try owner.query("SELECT \(function)($1, $2, $3)", ["\(role)", "\"\(schema)\".\"\(table)\"", privilege]).decode(row: 0, column: 0)
                    #expect(allowed == meant(role, schema, table, privilege), "\(role) \(allowed ? "may" : "may not") \(privilege) \(schema).\(table)")
                    cells += 1
                }
            }
        }
        #expect(cells > 400)
    }
}
