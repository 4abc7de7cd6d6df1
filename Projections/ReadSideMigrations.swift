import Foundation
import Logging
import ReachEventLog

/// The read side's share of the numbered migrations (`Migrations/` beside this file): the
/// bookkeeping of projections (`projections.state`), the `research` and `authority` schemas and
/// the roles that read them (`reach_researcher`, `reach_authority`). The event log knows
/// nothing of them; whoever sets a database up adds them to the log's own (the application's
/// `Schema.migrator()`).
public enum ReadSide {
    public static func migrations() throws -> [Migrator.Migration] {
        guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted().map { name in
            Migrator.Migration(name: name, sql: try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
    }
}
