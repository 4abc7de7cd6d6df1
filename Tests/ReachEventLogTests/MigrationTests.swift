import Foundation
import ReachEventLog
import ReachPostgres
import ReachTestSupport
import Testing

@Suite("migrations")
struct MigrationTests {
    @Test("applied once; re-running is a no-op")
    func appliedOnce() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        let migrator = try Migrator()
        let first = try migrator.migrate(on: connection)
        #expect(first == migrator.migrations.map(\.name))
        #expect(!first.isEmpty)
        #expect(try migrator.migrate(on: connection).isEmpty)
        #expect(try Migrator.applied(on: connection) == first)
    }

    @Test("an applied file that was edited is refused, and nothing runs")
    func checksumMismatch() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        let migrator = try Migrator()
        _ = try migrator.migrate(on: connection)
        var edited = migrator.migrations
        edited[0].sql += "\n-- an edit after the fact\n"
        edited.append(.init(name: "9999_later.sql", sql: "CREATE TABLE reach.later (n int);"))
        let error = #expect(throws: EventLogError.self) { try Migrator(migrations: edited).migrate(on: connection) }
        #expect(error?.code == .migration)
        #expect(error?.message.contains(edited[0].name) == true)
        #expect(try connection.query("SELECT to_regclass('reach.later') IS NULL").decode(Bool.self, row: 0, column: 0))
    }

    @Test("a failing migration leaves nothing half-applied")
    func failingMigrationRollsBack() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        let broken = Migrator(migrations: [.init(name: "0001_broken.sql", sql: "CREATE TABLE half (n int); SELECT 1/0;")])
        #expect(throws: PostgresError.self) { try broken.migrate(on: connection) }
        #expect(try connection.query("SELECT to_regclass('half') IS NULL").decode(Bool.self, row: 0, column: 0))
        #expect(try Migrator.applied(on: connection).isEmpty)
    }

    @Test("two concurrent runs end with one applied set")
    func concurrentRuns() async throws {
        let db = try TestDatabase.create(migrated: false)
        let runs = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let connection = try await PostgresConnection.connect(db.owner)
                    let applied = try await connection.run { try Migrator().migrate(on: $0) }
                    await connection.close()
                    return applied
                }
            }
            return try await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        let all = try Migrator().migrations.map(\.name)
        #expect(runs.flatMap { $0 }.sorted() == all)
        #expect(runs.contains { $0.isEmpty })
        let connection = try db.ownerConnection()
        #expect(try connection.query("SELECT count(*) FROM reach_migrations").decode(Int.self, row: 0, column: 0) == all.count)
    }
}
