import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine
import ReachDomain

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

            Record types: \(RecordType.recordableNames).

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
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw CommandError("no records found in \(file == "-" ? "standard input" : file)")
        }
        let app = try await database.application()
        let results = try await app.record(text, source: file == "-" ? "cli" : "cli:\(file)", as: try await app.identify(actor: actorName(actor)))
        for result in results { emit(try jsonLine(result)) }
        let refused = results.count { $0.isRefused }
        if refused > 0 {
            FileHandle.standardError.write(Data("\(refused) of \(results.count) records refused\n".utf8))
            throw ExitCode(1)
        }
    }
}
