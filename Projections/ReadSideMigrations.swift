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
        try Migrator.files(in: Bundle.module.url(forResource: "Migrations", withExtension: nil))
    }
}
