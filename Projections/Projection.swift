import Foundation
import ReachDomain

/// A projection: a named set of tables, the SQL that creates them, and the statements that turn
/// a batch of events into rows of those tables.
///
/// Its SQL is in `SQL/<name>.sql`, in sections:
/// - `-- @tables`: the tables, created in the projection's schema (`{schema}`);
/// - `-- @apply`: one statement per section, an `INSERT ... SELECT ... FROM src` where `src`
///   is the batch of events (`event_id`, `position`, `event_type`, `schema_version`, `data`,
///   `occurred_on`, `authority_id`);
/// - `-- @views`: the views of the `research` schema over the tables.
///
/// Every table has an `event_id` column naming the event its row came from, which is how the
/// engine honours corrections (rows replaced, from the corrected data) and withdrawals (rows
/// removed), whatever the projection.
public struct Projection: Sendable, Hashable {
    /// The projection's name, also its schema's (`proj_<name>`).
    public let name: String
    /// The event types it reads.
    public let eventTypes: [String]
    /// Its tables, each with an `event_id` column.
    public let tables: [String]
    /// The SQL sections, with `{schema}` still in them.
    let tablesSQL: String
    let applySQL: [String]
    let viewsSQL: String
    /// Sums a rebuild makes once at the end, where triggers keep them during normal running.
    let rollupsSQL: String
    /// The research views it creates, which a rebuild locks before its tables.
    let views: [String]

    /// Loads a projection's SQL from the bundled `SQL/<name>.sql`.
    init(name: String, eventTypes: [String], tables: [String]) {
        self.name = name
        self.eventTypes = eventTypes
        self.tables = tables
        guard let url = Bundle.module.url(forResource: name, withExtension: "sql", subdirectory: "SQL"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            fatalError("the SQL of projection \(name) is missing from the bundle")
        }
        var sections: [(String, [String])] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-- @") {
                sections.append((String(line.dropFirst(4)).trimmingCharacters(in: .whitespaces), []))
            } else if !sections.isEmpty {
                sections[sections.count - 1].1.append(String(line))
            }
        }
        func body(_ lines: [String]) -> String { lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines) }
        let phase =
            "CASE src.data ->> 'kind' " + ActivityKind.allCases.map { "WHEN '\($0.rawValue)' THEN '\($0.phase.rawValue)'" }.joined(separator: " ")
            + " END"
        func expand(_ sql: String) -> String {
            var text = sql.replacingOccurrences(of: "{activity_phase}", with: phase)
            for (placeholder, value) in AttendanceCell.placeholders { text = text.replacingOccurrences(of: placeholder, with: value) }
            return text
        }
        tablesSQL = sections.filter { $0.0 == "tables" }.map { expand(body($0.1)) }.joined(separator: "\n")
        applySQL = sections.filter { $0.0 == "apply" }.map { expand(body($0.1)).trimmingCharacters(in: CharacterSet(charactersIn: ";")) }
        viewsSQL = sections.filter { $0.0 == "views" }.map { expand(body($0.1)) }.joined(separator: "\n")
        rollupsSQL = sections.filter { $0.0 == "rollups" }.map { expand(body($0.1)) }.joined(separator: "\n")
        views = viewsSQL.split(separator: "\n").compactMap { line in
            line.hasPrefix("CREATE VIEW research.") ? String(line.dropFirst("CREATE VIEW research.".count).prefix { $0 != " " }) : nil
        }
    }

    /// The schema that holds the projection's live tables.
    public var schema: String { "proj_\(name)" }
    /// The schema a rebuild fills before it is swapped in.
    var nextSchema: String { "proj_\(name)_next" }

    /// Everything that decides the tables' contents; a change means the tables must be rebuilt.
    var definition: String {
        ([tablesSQL] + applySQL + [viewsSQL, rollupsSQL, eventTypes.joined(separator: ",")]).joined(separator: "\n--\n")
    }

    func sql(_ text: String, schema: String) -> String {
        text.replacingOccurrences(of: "{schema}", with: schema)
    }

    public static func == (lhs: Projection, rhs: Projection) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

extension Projection {
    /// Every projection, in the order they are installed.
    public static let all: [Projection] = [reference, activities, engagement, surveys, contexts, locations]

    /// Looks a projection up by name.
    public static func named(_ name: String) -> Projection? { all.first { $0.name == name } }
}
