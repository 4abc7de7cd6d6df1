import Foundation
import ReachPostgres

/// A research view as PostgreSQL describes it: its comment and its columns' types and comments.
public struct ResearchView: Sendable {
    public struct Column: Sendable {
        public var name: String
        public var type: String
        public var comment: String
    }
    public var name: String
    public var comment: String
    public var columns: [Column]
}

extension ReachApplication {
    /// The research views with their descriptions and their columns', as the database holds
    /// them (`COMMENT ON`): for researchers and admins, who read them.
    public func researchViews(as identity: Identity) async throws -> [ResearchView] {
        try Access.checkReadsProgramme(identity, "the research views")
        let source = Self.readSource(target, for: identity, service: servesRequests)
        return try await database.withConnection(.reading(identity, from: source)) { connection in
            let rows = try connection.query(
                """
                SELECT c.relname::text, coalesce(obj_description(c.oid, 'pg_class'), ''), a.attname::text,
                       format_type(a.atttypid, a.atttypmod), coalesce(col_description(c.oid, a.attnum), '')
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                WHERE n.nspname = 'research' AND c.relkind = 'v'
                ORDER BY c.relname, a.attnum
                """
            ).mapRows { row in
                (
                    try row.decode(0, as: String.self), try row.decode(1, as: String.self), try row.decode(2, as: String.self),
                    try row.decode(3, as: String.self), try row.decode(4, as: String.self)
                )
            }
            var views: [ResearchView] = []
            for (view, comment, column, type, columnComment) in rows {
                if views.last?.name != view { views.append(ResearchView(name: view, comment: comment, columns: [])) }
                views[views.count - 1].columns.append(ResearchView.Column(name: column, type: type, comment: columnComment))
            }
            return views
        }
    }
}
