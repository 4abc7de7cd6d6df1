import ArgumentParser
import CSV
import Foundation
import Logging
import ReachApp
import ReachCommandLine
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ReachProjections

/// `reach bench import`: validating and importing a large CSV of activities, beside the bulk
/// append of the same events in the same run.
struct ImportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Benchmark importing a CSV of activities (read, check, append) against the bulk append alone.",
        discussion: """
            Runs in a scratch database (created and dropped): loads the demo's authorities, schools \
            and pilots, writes a CSV of synthetic activities, imports it as `reach import` does, then \
            appends the same number of events through the bulk path alone. Build with -c release.
            """
    )
    @OptionGroup var database: DatabaseOptions

    @Option(help: "Rows in the CSV.")
    var rows = 1_000_000

    func run() async throws {
        let logger = makeLogger()
        let target = try await database.target(logger: logger)
        // Blocking work (libpq, files) on a thread of its own, off the cooperative pool.
        let rows = rows
        try await onThreadOfItsOwn(name: "reach.bench", async: { try await Self.measure(rows: rows, target: target, logger: logger) })
    }

    static func measure(rows: Int, target: DatabaseTarget, logger: Logger) async throws {
        let scratch = "reach_bench_import_\(getpid())"
        let admin = try Connection(configuration: target.owner, logger: logger)
        try admin.executeScript("CREATE DATABASE \(try admin.quoteIdentifier(scratch))")
        defer { try? admin.executeScript("DROP DATABASE IF EXISTS \(try admin.quoteIdentifier(scratch)) WITH (FORCE)") }
        let configuration = target.owner.overriding(["dbname": scratch])
        let connection = try Connection(configuration: configuration, logger: logger)
        _ = try Schema.migrator(logger: logger).migrate(on: connection)

        // The world the activities refer to: the demo's fixed part.
        _ = try DemoLoader(generator: DemoGenerator(seed: 1, events: 5_000)).load(on: connection)

        // A CSV of activities from another seed (same authorities, schools and pilots).
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("activity_delivered-bench-\(getpid()).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (written, sample) = try writeCSV(rows: rows, to: path)
        let fileMiB = Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1_048_576

        // Import it, as `reach import` does.
        let importer = Importer(recorder: Recorder(actor: "bench", source: "bench"))
        let clock = ContinuousClock()
        let startRSS = AppendBench.residentMiB()
        var summary = Importer.Summary()
        let backend = try connection.query("SELECT pg_backend_pid()").decode(Int32.self, row: 0, column: 0)
        let (clientBefore, serverBefore) = (Self.processCPU(), Self.processCPU(pid: backend))
        let importStart = clock.now
        summary = try await importer.run(source: try Importer.open(path: path, type: nil), skipInvalid: false, on: connection)
        let importTime = clock.now - importStart
        let (clientCPU, serverCPU) = (Self.processCPU() - clientBefore, Self.processCPU(pid: backend).map { $0 - (serverBefore ?? 0) })
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        guard summary.committed, summary.appended == written else {
            throw CommandError("the import did not append every row: \(summary.appended) of \(written), \(summary.refused.count) refused")
        }

        // The bulk append alone, of as many events with the same data.
        let events = (0..<written).lazy.map { index -> NewEvent in
            let record = sample[index % sample.count]
            return NewEvent(
                streamID: record.streamID, type: record.type, schemaVersion: 2, data: record.data,
                metadata: EventMetadata(actor: "bench", source: "bench"), occurredOn: record.occurredOn, authorityID: record.authorityID)
        }
        let bulkTime = try clock.measure {
            _ = try connection.withTransaction { try EventLog.appendBulk(events, on: $0) }
        }
        let importRate = Double(written) / seconds(importTime)
        let bulkRate = Double(written) / seconds(bulkTime)
        emit(
            String(format: "CSV: %d rows, %.0f MiB", written, fileMiB)
                + (summary.passes > 1 ? " (read twice: a record looked as if the log held it)" : ""))
        emit(String(format: "bulk append alone, same events:      %.2f s  %8.0f events/s   baseline", seconds(bulkTime), bulkRate))
        emit(
            String(
                format: "reach import (read, check, append):  %.2f s  %8.0f records/s   %.2fx bulk append   target >= 0.75x  %@",
                seconds(importTime), importRate, importRate / bulkRate, importRate >= 0.75 * bulkRate ? "ok" : "MISSED"))
        emit(String(format: "resident memory: %.0f MiB before the import, process peak %.0f MiB", startRSS, Double(usage.ru_maxrss) / 1024))
        let perRow = { (cpu: Double) in cpu / Double(written) * 1_000_000 }
        emit(
            String(format: "CPU per row during the import: this process %.1f µs", perRow(clientCPU))
                + (serverCPU.map { String(format: ", its server process %.1f µs", perRow($0)) } ?? " (the server's is not readable from here)"))
    }

    /// Writes `rows` activities of the demo (seed 2) to a CSV file at `path`; returns how many it
    /// wrote and the first 2,000 records, for the bulk baseline.
    static func writeCSV(rows: Int, to path: String) throws -> (written: Int, sample: [DemoRecord]) {
        let layout = try CSVLayout.of("activity_delivered").get()
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw CommandError("cannot write \(path)")
        }
        // Rows are written to memory and the file takes them 20,000 at a time (one small write
        // per field made writing a 1,000,000-row file take minutes).
        var writer = try CSVWriter(stream: .toMemory())
        func flush() throws {
            writer.stream.close()
            try file.write(contentsOf: writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data ?? Data())
            try file.write(contentsOf: Data("\n".utf8))
            writer = try CSVWriter(stream: .toMemory())
        }
        try writer.write(row: layout.header)
        var written = 0
        var sample: [DemoRecord] = []
        // The demo's other records (corrections, stages, surveys...) are a few in a hundred:
        // a twentieth more events than rows leaves enough activities.
        try DemoGenerator(seed: 2, events: rows + rows / 20 + 5_000).generate { record in
            guard record.type == "activity_delivered", written < rows, case .object(let data) = try JSONValue.parse(record.data) else { return }
            try writer.write(row: layout.row(id: record.id, data: data))
            written += 1
            if written % 20_000 == 0 { try flush() }
            if sample.count < 2_000 { sample.append(record) }
        }
        if written % 20_000 != 0 { try flush() }
        try file.close()
        return (written, sample)
    }

    /// CPU seconds (user and system) used so far by this process, or by process `pid` when
    /// /proc shows it (a server on this machine).
    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
    }

    static func processCPU(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return nil }
        // After the command's closing parenthesis: state is field 3, utime 14 and stime 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
