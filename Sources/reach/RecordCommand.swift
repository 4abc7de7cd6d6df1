import ArgumentParser
import Foundation
import ReachDomain
import ReachEventLog
import ReachPostgres

/// `reach record`: check and append records, one JSON document or JSON Lines.
struct Record: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record what happened: check each record and append the ones that pass.",
        discussion: """
            Reads one JSON document, or JSON Lines (one record per line), from FILE or standard \
            input. A record is {"type": "...", "id": "<an id you choose>", "data": {...}}; sending \
            the same record again changes nothing. Prints one result line per record (accepted, \
            already_recorded or refused, with the field and the reason) and exits with status 1 \
            when any record was refused.

            Record types: \(RecordType.all.keys.sorted().joined(separator: ", ")).

            Example:
              echo '{"type":"local_authority_registered","id":"la-demo","data":{"la_id":"demo","name":"Demo Council","region":"london","joined_on":"2024-09-01"}}' | reach record
            """
    )
    @OptionGroup var database: DatabaseOptions

    @Argument(help: "A file of records, or - (the default) for standard input.")
    var file: String = "-"

    @Option(help: "Who is recording (default: $REACH_ACTOR, else the login name).")
    var actor: String?

    func run() async throws {
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandError("cannot read \(file): no such file, or no permission to read it")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let documents = Self.split(text)
        guard !documents.isEmpty else { throw CommandError("no records found in \(file == "-" ? "standard input" : file)") }

        let logger = makeLogger()
        let connection = try Connection(configuration: try database.target(logger: logger).application, logger: logger)
        let environment = ProcessInfo.processInfo.environment
        let recorder = Recorder(actor: actor ?? environment["REACH_ACTOR"] ?? environment["USER"] ?? loginName(), source: file == "-" ? "cli" : "cli:\(file)")
        var refused = 0
        for (line, document) in documents {
            let (id, outcome) = try recorder.record(document, on: connection)
            emit(try jsonLine(Self.Result(line: line, id: id, outcome: outcome)))
            if case .refused = outcome { refused += 1 }
        }
        if refused > 0 {
            FileHandle.standardError.write(Data("\(refused) of \(documents.count) records refused\n".utf8))
            throw ExitCode(1)
        }
    }

    /// One JSON document (possibly over several lines), or JSON Lines; each with its line number.
    static func split(_ text: String) -> [(line: Int, text: String)] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return [] }
        if (try? JSONValue.parse(trimmed)) != nil { return [(1, trimmed)] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            let content = line.trimmingCharacters(in: .whitespaces)
            return content.isEmpty ? nil : (index + 1, content)
        }
    }

    /// The result line printed for each record.
    struct Result: Encodable {
        var line: Int
        var id: String?
        var status: String
        var position: Int64?
        var refusals: [Refusal]?

        init(line: Int, id: String?, outcome: RecordOutcome) {
            self.line = line
            self.id = id
            switch outcome {
            case .accepted(let position): status = "accepted"; self.position = position
            case .alreadyRecorded(let position): status = "already_recorded"; self.position = position
            case .refused(let refusals): status = "refused"; self.refusals = refusals
            }
        }
    }
}
