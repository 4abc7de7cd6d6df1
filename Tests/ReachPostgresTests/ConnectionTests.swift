import Foundation
import Logging
import ReachCalendar
import ReachPostgres
import ReachTestSupport
import Testing

@Suite("libpq layer")
struct ConnectionTests {
    @Test("a connection string's password is never shown, however it is written")
    func passwordsRedacted() {
        let secrets = [
            "host=db password=s3cret dbname=reach",
            "host=db password = s3cret dbname=reach",
            "host=db password='s3 cret' dbname=reach",
            "postgresql://reach:s3cret@db/reach",
            "postgresql://reach@db/reach?password=s3cret",
            "postgresql://reach@db/reach?pass%77ord=s3cret",
            "postgresql://reach@db/reach?sslpassword=s3cret",
        ]
        for text in secrets {
            let shown = ConnectionConfiguration(text).description
            #expect(!shown.contains("s3"), "\(text) -> \(shown)")
            #expect(shown.contains("reach"), "\(text) -> \(shown)")
        }
        #expect(!ConnectionConfiguration("host=db").overriding(["password": "s3cret"]).description.contains("s3cret"))
        #expect(!ConnectionConfiguration("host=db password='unterminated").description.contains("unterminated"))
    }

    @Test("every parameter type binds and decodes back unchanged")
    func bindingRoundTrips() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        func roundTrip<T: PostgresEncodable & PostgresDecodable & Equatable>(_ value: T, _ cast: String) throws {
            let result = try connection.query("SELECT $1::\(cast)", [value])
            #expect(try result.decode(T.self, row: 0, column: 0) == value, "\(cast)")
        }
        try roundTrip("plain", "text")
        try roundTrip("quotes ' \" and \\ backslash, tab\t, newline\n, unicode é 🏫", "text")
        try roundTrip(Int64.max, "int8")
        try roundTrip(Int64.min, "int8")
        try roundTrip(Int32(-42), "int4")
        try roundTrip(1_234_567, "int8")
        try roundTrip(true, "bool")
        try roundTrip(false, "bool")
        try roundTrip(3.25, "float8")
        try roundTrip(UUID(), "uuid")
        try roundTrip(PostgresBytes([0, 1, 2, 0xfe, 0xff]), "bytea")
        try roundTrip(CalendarDate(year: 2024, month: 2, day: 29), "date")
        let json = try connection.query("SELECT $1::jsonb ->> 'name'", [PostgresJSONB(#"{"name":"Example \"Academy\""}"#)])
        #expect(try json.decode(String.self, row: 0, column: 0) == #"Example "Academy""#)

        let missing: String? = nil
        let null = try connection.query("SELECT $1::text IS NULL, $1::text", [missing])
        #expect(try null.decode(Bool.self, row: 0, column: 0))
        #expect(try null.decodeIfPresent(String.self, row: 0, column: 1) == nil)
        #expect(throws: PostgresError.self) { try null.decode(String.self, row: 0, column: 1) }

        let texts = PostgresArray<String>(["a", "with \"quote\"", "back\\slash", "comma,brace}", nil, ""])
        let unnested = try connection.query("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n", [texts])
        let decoded = try unnested.mapRows { try $0.decodeIfPresent(0, as: String.self) }
        #expect(decoded == texts.elements)
        let numbers = try connection.query("SELECT sum(x) FROM unnest($1::int8[]) x", [PostgresArray<Int64>([1, 2, 3, nil])])
        #expect(try numbers.decode(Int.self, row: 0, column: 0) == 6)
        let dates = try connection.query(
            "SELECT max(x) FROM unnest($1::date[]) x",
            [PostgresArray([CalendarDate(year: 2023, month: 1, day: 1), CalendarDate(year: 2025, month: 8, day: 31)])])
        #expect(try dates.decode(CalendarDate.self, row: 0, column: 0) == CalendarDate(year: 2025, month: 8, day: 31))
    }

    @Test("a value is never spliced into SQL: a hostile string stays data")
    func parametersAreNotSQL() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        try connection.executeScript("CREATE TABLE t (v text)")
        let hostile = "x'); DROP TABLE t; --"
        try connection.execute("INSERT INTO t VALUES ($1)", [hostile])
        #expect(try connection.query("SELECT v FROM t").decode(String.self, row: 0, column: 0) == hostile)
    }

    @Test("errors carry the SQLSTATE and the server's message, but not parameter values")
    func errorsCarrySQLState() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        try connection.executeScript("CREATE TABLE u (k text PRIMARY KEY)")
        try connection.execute("INSERT INTO u VALUES ($1)", ["secret-value"])
        do {
            try connection.execute("INSERT INTO u VALUES ($1)", ["secret-value"])
            Issue.record("a duplicate key was accepted")
        } catch let error as PostgresError {
            #expect(error.sqlState == PostgresError.SQLState.uniqueViolation)
            #expect(error.code == .server)
            #expect(error.message.contains("duplicate key"))
            #expect(!error.description.contains("INSERT INTO"))
            // The detail names the key's value ("Key (k)=(secret-value) already exists"): it
            // stays out of the description, which reaches users and logs.
            #expect(error.detail?.contains("secret-value") == true)
            #expect(!error.description.contains("secret-value"))
            #expect(!"\(error)".contains("secret-value"))
            #expect(error.description.contains("unique") && error.description.contains("u_pkey"))
            #expect(error.debugDescription.contains("secret-value"))
            #expect(error.query == "INSERT INTO u VALUES ($1)")
        }
        let syntax = #expect(throws: PostgresError.self) { try connection.execute("SELEC 1") }
        #expect(syntax?.sqlState == "42601")
        // The connection is still usable after errors.
        #expect(try connection.query("SELECT 1").decode(Int.self, row: 0, column: 0) == 1)
    }

    @Test("a connection failure names the problem")
    func connectionFailure() throws {
        let error = #expect(throws: PostgresError.self) {
            _ = try Connection(configuration: ConnectionConfiguration("host=/nonexistent-reach-socket port=1 dbname=x connect_timeout=2"))
        }
        #expect(error?.code == .connection)
        #expect(error?.message.isEmpty == false)
    }

    @Test("every PGresult is freed exactly once, on success, on error, in pipelines and COPY")
    func resultsAreFreed() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        try connection.executeScript("CREATE TABLE r (n int8 PRIMARY KEY)")
        for n in 0..<50 {
            try connection.execute("INSERT INTO r VALUES ($1)", [Int64(n)], prepared: true)
            _ = try? connection.execute("INSERT INTO r VALUES ($1)", [Int64(n)], prepared: true) // fails: duplicate
            do {
                let result = try connection.query("SELECT n FROM r WHERE n <= $1", [Int64(n)])
                #expect(connection.liveResultCount >= 1)
                #expect(result.rowCount == n + 1)
            }
        }
        try connection.pipeline((0..<20).map { PipelineStatement("SELECT $1::int8", [Int64($0)]) })
        _ = try? connection.pipeline([PipelineStatement("SELECT 1"), PipelineStatement("SELECT 1/0"), PipelineStatement("SELECT 2")])
        try connection.copyIn("COPY r FROM STDIN") { writer in
            for n in 1000..<1100 { try writer.appendField(String(n), last: true) }
        }
        _ = try? connection.copyIn("COPY r FROM STDIN") { writer in try writer.appendField("not a number", last: true) }
        #expect(connection.totalResultCount >= 170)
        #expect(connection.liveResultCount == 0)
    }

    @Test("pipeline mode sends a batch in one round trip and fails it as a whole")
    func pipeline() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        try connection.executeScript("CREATE TABLE p (n int8 PRIMARY KEY)")
        var seen: [Int] = []
        try connection.pipeline((1...100).map { PipelineStatement("INSERT INTO p VALUES ($1) RETURNING n", [Int64($0)]) }, prepared: true) {
            index, result in
            seen.append(try result.decode(Int.self, row: 0, column: 0))
            #expect(index + 1 == seen.last)
        }
        #expect(seen == Array(1...100))
        // A failing statement rolls back the whole implicit transaction.
        let error = #expect(throws: PostgresError.self) {
            try connection.pipeline([
                PipelineStatement("INSERT INTO p VALUES (101)"), PipelineStatement("INSERT INTO p VALUES (1)"),
                PipelineStatement("INSERT INTO p VALUES (102)"),
            ])
        }
        #expect(error?.sqlState == PostgresError.SQLState.uniqueViolation)
        #expect(try connection.query("SELECT count(*) FROM p").decode(Int.self, row: 0, column: 0) == 100)
    }

    @Test("COPY loads escaped text exactly, and a cancelled COPY loads nothing")
    func copy() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        try connection.executeScript("CREATE TABLE c (n int8, v text)")
        let values: [String?] = ["tab\there", "line\nbreak", "back\\slash", nil, "\\N literal", "carriage\rreturn", "é"]
        let copied = try connection.copyIn("COPY c FROM STDIN") { writer in
            for (n, value) in values.enumerated() {
                try writer.appendField(String(n))
                try writer.appendField(value, last: true)
            }
        }
        #expect(copied == values.count)
        let back = try connection.query("SELECT v FROM c ORDER BY n").mapRows { try $0.decodeIfPresent(0, as: String.self) }
        #expect(back == values)

        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try connection.copyIn("COPY c FROM STDIN") { writer in
                try writer.appendField("99")
                try writer.appendField("never", last: true)
                throw Stop()
            }
        }
        #expect(try connection.query("SELECT count(*) FROM c").decode(Int.self, row: 0, column: 0) == values.count)
    }

    @Test("transactions commit, roll back on a thrown error, and report a server-side rollback")
    func transactions() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        try connection.executeScript("CREATE TABLE x (n int8 PRIMARY KEY)")
        try connection.withTransaction { try $0.execute("INSERT INTO x VALUES (1)") }
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.withTransaction { connection in
                try connection.execute("INSERT INTO x VALUES (2)")
                throw Abort()
            }
        }
        #expect(throws: PostgresError.self) {
            try connection.withTransaction { connection in
                _ = try? connection.execute("INSERT INTO x VALUES (1)") // fails, and the error is swallowed
            }
        }
        #expect(try connection.query("SELECT array_agg(n)::text FROM x").decode(String.self, row: 0, column: 0) == "{1}")
    }

    @Test("LISTEN/NOTIFY delivers notifications by polling the socket, and times out quietly")
    func notifications() throws {
        let db = try TestDatabase.create(migrated: false)
        let listener = try db.ownerConnection()
        let sender = try db.ownerConnection()
        try listener.listen("reach test channel")
        #expect(try listener.waitForNotifications(timeout: .milliseconds(50)).isEmpty)
        try sender.execute("SELECT pg_notify($1, $2)", ["reach test channel", "hello"])
        var received: [PostgresNotification] = []
        for _ in 0..<20 where received.isEmpty {
            received = try listener.waitForNotifications(timeout: .milliseconds(250))
        }
        #expect(received.map(\.payload) == ["hello"])
        #expect(received.first?.channel == "reach test channel")
        #expect(received.first?.senderPID == sender.backendPID)
    }

    @Test("server notices go to the connection's logger")
    func noticesAreLogged() throws {
        let db = try TestDatabase.create(migrated: false)
        let handler = CapturingLogHandler()
        let connection = try Connection(configuration: db.owner, logger: Logger(label: "test") { _ in handler })
        try connection.executeScript("DO $$ BEGIN RAISE NOTICE 'a notice from the server'; RAISE WARNING 'and a warning'; END $$")
        #expect(handler.messages.contains("info: a notice from the server"))
        #expect(handler.messages.contains("warning: and a warning"))
    }

    @Test("the pool serves many concurrent tasks with few connections, each on its own thread")
    func pool() async throws {
        let db = try TestDatabase.create(migrated: false)
        let client = PostgresClient(configuration: db.owner, maximumConnections: 3)
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for n in 0..<30 {
                group.addTask {
                    try await client.withConnection { connection in
                        _ = try connection.query("SELECT pg_sleep(0.01), $1::int8", [Int64(n)])
                        return connection.backendPID
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(pids.count <= 3)
        #expect(pids.count >= 1)
        let total = try await client.withTransaction { try $0.query("SELECT 40 + 2").decode(Int.self, row: 0, column: 0) }
        #expect(total == 42)
        await client.shutdown()
        await #expect(throws: PostgresError.self) { try await client.withConnection { _ in 0 } }
    }

    @Test("the pool rolls back a transaction a borrower left open, and never hands it to the next")
    func poolResetsLeftovers() async throws {
        let db = try TestDatabase.create(migrated: false)
        try db.ownerConnection().executeScript("CREATE TABLE kept (n int)")
        let client = PostgresClient(configuration: db.owner, maximumConnections: 1)
        let first = try await client.withConnection { connection in
            try connection.executeScript("BEGIN; INSERT INTO kept VALUES (1)")
            return connection.backendPID
        }
        let (second, inTransaction) = try await client.withConnection { ($0.backendPID, $0.isInTransaction) }
        #expect(second == first) // the same connection, made idle again
        #expect(!inTransaction)
        #expect(try await client.withConnection { try $0.query("SELECT count(*) FROM kept").decode(Int.self, row: 0, column: 0) } == 0)
        // A failed transaction is rolled back as well.
        _ = try? await client.withConnection { connection in
            try connection.executeScript("BEGIN")
            _ = try connection.query("SELECT 1/0")
        }
        #expect(try await client.withConnection { try $0.query("SELECT 1").decode(Int.self, row: 0, column: 0) } == 1)
        await client.shutdown()
    }

    @Test("a configuration from a URL or key/values connects, and hides passwords when printed")
    func configuration() throws {
        let db = try TestDatabase.create(migrated: false)
        let url = ConnectionConfiguration("postgresql:///\(db.name)?host=\(TestCluster.shared.dataDirectory)&user=postgres")
        let connection = try Connection(configuration: url)
        #expect(try connection.query("SELECT current_database()").decode(String.self, row: 0, column: 0) == db.name)
        let secret = ConnectionConfiguration("postgresql://reach:hunter2@db.example/reach")
        #expect(!secret.description.contains("hunter2"))
        #expect(!ConnectionConfiguration("host=x password=hunter2 dbname=y").description.contains("hunter2"))
    }
}
