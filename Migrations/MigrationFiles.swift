import Foundation

/// The numbered SQL files of this folder, bundled with the program.
public enum MigrationFiles {
    /// Each file's name (for example `0001_event_log.sql`) and its SQL, in name order.
    public static func all() throws -> [(name: String, sql: String)] {
        guard let folder = Bundle.module.url(forResource: "sql", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        return try names.map { name in
            (name, try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
    }
}
