import Foundation
import Logging
import ReachEventLog
import ReachProjections

/// Every migration of a Reach database, each kept by the part that owns what it makes: the
/// event log's (`Migrations/sql/`, which the ``Migrator`` holds itself), the read side's
/// (`Projections/Migrations/`) and the application's own (`Migrations/` beside this file: the
/// service's accounts, sessions, import jobs, recent records and sign-in guard). One numbering
/// for all, applied in name order whoever owns a file, so a database set up by any release is
/// in the same order, and one made before the files had owners keeps working (same names,
/// same checksums: `UpgradeTests` migrates one).
public enum Schema {
    /// The application's migrations.
    public static func applicationMigrations() throws -> [Migrator.Migration] {
        try Migrator.files(in: Bundle.module.url(forResource: "Migrations", withExtension: nil))
    }

    /// The migrations of the parts built on the log: the read side's and the application's.
    public static func migrations() throws -> [Migrator.Migration] {
        try ReadSide.migrations() + applicationMigrations()
    }

    /// Every migration: the event log's, the read side's and the application's.
    public static func migrator(logger: Logger = Logger(label: "reach.migrations")) throws -> Migrator {
        try Migrator(adding: migrations(), logger: logger)
    }
}
