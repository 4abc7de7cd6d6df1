import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine
import ReachDomain
import ReachIngest

/// `reach import FILE`: a file of records, all or nothing.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a file of records (JSON Lines, or CSV of one record type), all or nothing.",
        discussion: """
            The file is checked and appended in one transaction, read as a stream (memory does \
            not grow with the file). If any row is refused, nothing is appended and every \
            refused row is listed with its line number, field and reason (exit status 1). With \
            --skip-invalid the rows that pass are appended, and --rejects writes the refused ones, \
            with a rejected_because column, to a file you can fix and import as it is. Importing \
            the same file twice appends nothing the second time.

            CSV files hold one record type, named by --type or by the file's name \
            (activity_delivered.csv, activity_delivered-autumn-2024.csv). `reach template TYPE` \
            prints the columns and an example row to start a spreadsheet from.
            """
    )
    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The file to import (.jsonl, or .csv).")
    var file: String
    @Option(help: "The record type of a CSV file, if its name does not say.")
    var type: String?
    @Flag(help: "Append the rows that pass and report the others, instead of appending nothing.")
    var skipInvalid = false
    @Option(help: "With --skip-invalid: write the refused rows, with reasons, to this file.")
    var rejects: String?
    @Option(help: "Who is importing (default: $REACH_ACTOR, else the login name).")
    var actor: String?

    func validate() throws {
        if rejects != nil && !skipInvalid { throw ValidationError("--rejects goes with --skip-invalid") }
        if let type, RecordType.recordable[type] == nil {
            throw ValidationError("--type: \(RecordType.unknown(type).reason)")
        }
    }

    func run() async throws {
        let app = try await database.application()
        let identity = try await app.identify(actor: actorName(actor))
        let onTerminal = isatty(STDERR_FILENO) == 1
        // For the progress bar: about one row per line (CSV rows less the header).
        let total = onTerminal ? max(1, Self.lineCount(file) - (file.hasSuffix(".jsonl") || file.hasSuffix(".json") ? 0 : 1)) : 1
        let outcome: ImportOutcome
        do {
            outcome = try await app.importFile(path: file, type: type, skipInvalid: skipInvalid, as: identity) { done in
                guard onTerminal else { return }
                let width = 30
                let filled = min(width, width * done / total)
                FileHandle.standardError.write(
                    Data(
                        "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(max(total, done)) rows"
                            .utf8))
            }
        } catch let refusals as Refusals {
            if onTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
            throw CommandError("\(file): \(refusals) - nothing was appended")
        }
        let summary = outcome.summary
        if onTerminal {
            FileHandle.standardError.write(Data("\n".utf8))
            // Says why the progress bar started again.
            if summary.passes > 1 {
                FileHandle.standardError.write(Data("the file was read twice: some of its records may have been in the log already\n".utf8))
            }
        }
        guard summary.read > 0 else { throw CommandError("\(file) holds no records") }

        for refused in summary.refused {
            let id = refused.id.map { " (id \($0))" } ?? ""
            for refusal in refused.refusals { emit("line \(refused.line)\(id): \(refusal)") }
        }
        if let rejects, !summary.refused.isEmpty {
            try PrivateFile.write(outcome.rejects, to: rejects)
            emit("wrote the \(summary.refused.count) refused rows, with reasons, to \(rejects)")
        }
        let appended = summary.committed ? summary.appended : 0
        emit(
            "read \(summary.read), appended \(appended), already present \(summary.alreadyPresent), refused \(summary.refused.count)"
                + (summary.committed ? "" : " - nothing was appended; fix the refused rows and import the file again, or use --skip-invalid"))
        if !summary.refused.isEmpty && !skipInvalid { throw ExitCode(1) }
    }
}

extension Import {
    /// The number of lines in a file, counted in blocks.
    static func lineCount(_ path: String) -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? handle.close() }
        var lines = 0
        while let block = try? handle.read(upToCount: 1 << 20), !block.isEmpty {
            lines += block.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        }
        return lines
    }
}

/// `reach template TYPE`: the columns and an example row of a record type.
struct Template: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a CSV header and an example row for a record type, to start a spreadsheet from.",
        discussion: "Types whose records hold lists of objects (safety_plan_agreed, event_corrected) print a JSON Lines example instead."
    )

    @Argument(help: ArgumentHelp("The record type.", valueName: "type"))
    var type: String

    func validate() throws {
        guard RecordType.recordable[type] != nil else {
            throw ValidationError(RecordType.unknown(type).reason)
        }
    }

    func run() async throws {
        let template = try ReachApplication.template(type)
        if let note = template.note { FileHandle.standardError.write(Data("\(note)\n".utf8)) }
        FileHandle.standardOutput.write(Data(template.text.utf8))
    }
}
