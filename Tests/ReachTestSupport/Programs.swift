import Foundation

/// Other programs the tests run (schemathesis, promtool, Python checks, systemd-analyze): their
/// exit status and what they printed.
public enum Programs {
    /// Runs `program` to its end, with `input` on its standard input, and gives its exit status
    /// and its standard output (with its standard error too, unless `errors` is false).
    public static func run(
        _ program: String, _ arguments: [String], input: String? = nil, directory: URL? = nil,
        errors: Bool = true
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = errors ? output : FileHandle.nullDevice
        let feed = input.map { _ in Pipe() }
        if let feed { process.standardInput = feed }
        try process.run()
        if let feed, let input {
            feed.fileHandleForWriting.write(Data(input.utf8))
            try feed.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension Programs {
    /// A program a test needs is missing, or said something other than what was expected.
    public struct Missing: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}
