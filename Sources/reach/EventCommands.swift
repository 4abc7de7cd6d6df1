import ArgumentParser
import Foundation
import ReachApp
import ReachCalendar
import ReachCommandLine
import ReachEventLog
import ReachPostgres

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Append to, read and verify the event log.",
        subcommands: [Append.self, Read.self, Verify.self, Seal.self]
    )

    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append one event to a stream and print its position and version as JSON.",
            discussion: """
                Example:
                  reach events append school-LA01-0001 school_registered '{"name":"Example Academy"}' --expected-version none
                """
        )
        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The stream, such as school-LA01-0001.")
        var stream: String
        @Argument(help: "The event type, such as school_registered.")
        var type: String
        @Argument(help: "The event's data: a JSON object, or - to read it from standard input.")
        var data: String

        @Option(help: ArgumentHelp("any, none (the stream must not exist yet), or the stream's current version.", valueName: "version"))
        var expectedVersion: String = "any"
        @Option(help: "The event's id (a UUID); re-sending the same id appends nothing. Default: a new one.")
        var id: String?
        @Option(help: "The date the fact happened (YYYY-MM-DD).")
        var occurredOn: String?
        @Option(help: "The local authority the event belongs to.")
        var authority: String?
        @Option(help: "Who is recording it (default: $REACH_ACTOR, else the login name).")
        var actor: String?
        @Option(help: "The schema version of the event type.")
        var schemaVersion: Int32 = 1

        func validate() throws {
            guard ExpectedVersion(expectedVersion) != nil else {
                throw ValidationError("--expected-version must be any, none or a whole number, not '\(expectedVersion)'")
            }
            if let id, UUID(uuidString: id) == nil {
                throw ValidationError("--id must be a UUID such as 0b9a1c7e-3f52-4c1b-9d2e-5a7f7c1e2b3d, not '\(id)'")
            }
            if let occurredOn, CalendarDate(iso: occurredOn) == nil {
                throw ValidationError("--occurred-on must be a real date as YYYY-MM-DD, not '\(occurredOn)'")
            }
            guard !stream.isEmpty, stream.count <= 200 else { throw ValidationError("the stream id must be 1 to 200 characters") }
            guard schemaVersion >= 1 else { throw ValidationError("--schema-version must be 1 or more") }
        }

        func run() async throws {
            let text = data == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : data
            guard case .object? = try? JSONValue.parse(text) else {
                throw CommandError("the event's data must be a JSON object, such as '{\"name\":\"Example Academy\"}'")
            }
            let app = try await database.application()
            let identity = try await app.identify(actor: actorName(actor))
            let event = NewEvent(
                id: id.flatMap(UUID.init(uuidString:)) ?? .timeOrdered(), streamID: stream, type: type, schemaVersion: schemaVersion,
                data: text, metadata: EventMetadata(actor: identity.name, source: "cli"),
                occurredOn: occurredOn.flatMap(CalendarDate.init(iso:)), authorityID: authority)
            emit(try jsonLine(try await app.appendEvent(event, expecting: ExpectedVersion(expectedVersion)!, as: identity)))
        }
    }

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print events as JSON Lines: one stream, or the whole log from a position.",
            discussion: """
                Examples:
                  reach events read school-LA01-0001
                  reach events read --from 1 --follow
                """
        )
        @OptionGroup var database: DatabaseOptions

        @Argument(help: "A stream to read; omit it to read the whole log.")
        var stream: String?
        @Option(help: "Read the whole log from this position (inclusive).")
        var from: Int64 = 1
        @Option(help: "Stop after this many events (default: all).")
        var limit: Int?
        @Flag(help: "Keep printing new events as they are appended, until interrupted.")
        var follow = false

        func validate() throws {
            if stream != nil && follow { throw ValidationError("--follow reads the whole log; leave out the stream") }
            if from < 1 { throw ValidationError("--from must be 1 or more") }
            if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more") }
        }

        func run() async throws {
            let app = try await database.application()
            let identity = try await app.identify(actor: actorName(nil))
            var remaining = limit ?? Int.max
            if let stream {
                var after: Int64 = 0
                while remaining > 0 {
                    let events = try await app.readStream(stream, afterVersion: after, limit: min(1000, remaining), as: identity)
                    Self.print(events)
                    guard let last = events.last else { break }
                    after = last.version
                    remaining -= events.count
                }
                return
            }
            if follow {
                struct LimitReached: Error {}
                do {
                    try await app.followLog(after: from - 1, as: identity) { events in
                        Self.print(Array(events.prefix(remaining)))
                        remaining -= events.count
                        if remaining <= 0 { throw LimitReached() }
                    }
                } catch is LimitReached {}
                return
            }
            try await app.readLog(after: from - 1, limit: remaining, as: identity) { Self.print($0) }
        }

        private static func print(_ events: [RecordedEvent]) {
            guard !events.isEmpty else { return }
            var text = ""
            for event in events { text += event.jsonLine + "\n" }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every stream's hash chain; report the first broken event, or that all hold.",
            discussion: """
                Also checks positions, versions and every stream's head. With --seal, checks that \
                everything a seal (from reach events seal) covers is still there as it was: a stream's \
                tail or a whole stream deleted, or rewritten and re-chained by whoever controls the \
                database, is found. Exits with status 1 when anything is broken.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "A seal made by reach events seal.")
        var seal: String?
        @Option(help: "The public key (hex) that must have signed the seal.")
        var publicKey: String?

        func run() async throws {
            let app = try await database.application()
            let sealText: String?
            do {
                sealText = try seal.map { try String(contentsOfFile: $0, encoding: .utf8) }
            } catch {
                throw CommandError("cannot read the seal \(seal ?? ""): \(error.localizedDescription)")
            }
            let report = try await app.verifyLog(seal: sealText, publicKey: publicKey, as: try await app.identify(actor: actorName(nil)))
            emit(try jsonLine(report))
            if let broken = report.firstBroken {
                FileHandle.standardError.write(
                    Data(
                        """
                        stream \(broken.streamID) is broken at position \(broken.position) (version \(broken.version)): \(broken.reason)

                        """.utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a statement of every event up to the log's settled position, to verify the log against later.",
            discussion: """
                The statement holds a digest of every event's position and hash (by blocks of 100,000 \
                positions) and every stream's last event, up to the settled position (waiting, up to \
                --wait seconds, for appends in flight). The key is an Ed25519 private key in a file \
                outside the database (made, readable by its owner only, when --key names none). Keep \
                the key and the seals away from the database's server: reach events verify --seal FILE \
                then finds any event inserted, deleted or changed at or below the sealed position, in \
                any stream, even by the database's owner.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The Ed25519 private key's file (hex).")
        var key: String
        @Option(help: "Where to write the seal.")
        var out: String
        @Option(help: "How long to wait for appends in flight (seconds; default 300).")
        var wait: Int = 300

        func validate() throws {
            guard wait >= 1 else { throw ValidationError("--wait is a whole number of seconds from 1, not \(wait)") }
        }

        func run() async throws {
            let app = try await database.application()
            let (seal, newKey) = try await app.sealLog(keyPath: key, maxWait: .seconds(wait), as: try await app.identify(actor: actorName(nil)))
            try PrivateFile.write(seal.fileText, to: out)
            struct Line: Encodable {
                var file: String
                var streams: Int
                var last_position: Int64
                var public_key: String
                var new_key: Bool
            }
            emit(
                try jsonLine(
                    Line(file: out, streams: seal.heads.count, last_position: seal.lastPosition, public_key: seal.publicKey, new_key: newKey)))
        }
    }
}
