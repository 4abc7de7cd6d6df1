import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ReachTestSupport
import Testing

@Suite("importing files")
struct ImporterTests {
    let importer = Importer(recorder: Recorder(actor: "tester", source: "test", today: CalendarDate(year: 2026, month: 11, day: 22)))

    /// What became of a file's rows: refused (by line), appended (when kept), already present.
    struct Tally {
        var refused: [(line: Int, refusals: [Refusal])] = []
        var appended = 0
        var alreadyPresent = 0
        var committed = false

        init() {}
        init(_ summary: Importer.Summary) {
            refused = summary.refused.map { ($0.line, $0.refusals) }
            (appended, alreadyPresent, committed) = (summary.appended, summary.alreadyPresent, summary.committed)
        }
    }

    /// The rows of `text` recorded one at a time, as `reach record` records them (a batch of one
    /// each), in one transaction kept as an import keeps its own: what an import must match.
    func recordedOneByOne(_ text: String, skipInvalid: Bool, on connection: Connection) async throws -> Tally {
        let writer = RecordWriter(recorder: importer.recorder)
        return try await connection.withTransaction(keepingIf: \.committed) { connection in
            var tally = Tally()
            for row in Importer.readJSONLines(text).rows {
                let outcome: RecordOutcome
                switch row.envelope {
                case .failure(let refusals): outcome = .refused(refusals.all)
                case .success(let envelope): outcome = try writer.record([(row.line, envelope)], on: connection)[0]
                }
                switch outcome {
                case .accepted: tally.appended += 1
                case .alreadyRecorded: tally.alreadyPresent += 1
                case .refused(let refusals): tally.refused.append((row.line, refusals))
                }
            }
            tally.committed = tally.refused.isEmpty || skipInvalid
            return tally
        }
    }

    func temporary(_ name: String, _ text: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reach-import-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func count(_ db: TestDatabase) throws -> Int {
        try db.ownerConnection().query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
    }

    static let world = """
        {"type":"local_authority_registered","id":"la","data":{"la_id":"demo","name":"Demo Council","region":"london","joined_on":"2024-09-01"}}
        {"type":"school_registered","id":"s1","data":{"school_id":"100001","la_id":"demo","name":"Example Academy","phase":"secondary"}}
        {"type":"pilot_registered","id":"p","data":{"pilot_id":"demo-csrp","la_id":"demo","name":"Pilot","approach":"CS-restorative practice","strategy_project":"local","objectives":[1],"policy_goals":[2],"target_schools":11,"start_date":"2024-09-01"}}

        """

    @Test("a JSON Lines file whose rows refer to each other imports whole, and a second time appends nothing")
    func jsonLinesIdempotent() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        let path = try temporary("world.jsonl", Self.world)
        let first = try await importer.run(try Importer.read(path: path, type: nil), skipInvalid: false, on: connection)
        #expect(first.committed && first.appended == 3 && first.refused.isEmpty)
        let second = try await importer.run(try Importer.read(path: path, type: nil), skipInvalid: false, on: connection)
        #expect(second.appended == 0 && second.alreadyPresent == 3)
        #expect(try count(db) == 3)
    }

    @Test("one bad row refuses the whole file, reporting every bad row with its line number")
    func allOrNothing() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        let text =
            Self.world + """
                {"type":"activity_delivered","id":"a1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                {"type":"activity_delivered","id":"a2","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"asembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                not json at all
                """
        let summary = try await importer.run(Importer.readJSONLines(text), skipInvalid: false, on: connection)
        #expect(!summary.committed)
        #expect(summary.refused.map(\.line) == [5, 6])
        #expect(summary.refused[0].refusals.map(\.field) == ["kind"])
        #expect(try count(db) == 0)
    }

    @Test("--skip-invalid keeps the good rows; the rejects file, once fixed, imports")
    func skipInvalidAndRejects() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        _ = try await importer.run(Importer.readJSONLines(Self.world), skipInvalid: false, on: connection)
        let csv = """
            id,pilot_id,la_id,school_id,kind,date,duration_minutes,mode,pupils_ks3,staff_teaching
            a1,demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,180,6
            a2,demo-csrp,demo,100001,staff_training,2024-10-04,90,in_person,,twelve
            a3,demo-csrp,demo,100001,restorative_circle,2024-10-05,60,virtual,12,1
            """
        let path = try temporary("activity_delivered-autumn.csv", csv)
        let file = try Importer.read(path: path, type: nil)
        let summary = try await importer.run(file, skipInvalid: true, on: connection)
        #expect(summary.committed && summary.appended == 2)
        #expect(summary.refused.map(\.line) == [3])
        #expect(summary.refused[0].refusals == [Refusal("attendance.staff.teaching", "must be a whole number, not text")])
        let events = try EventLog.readStream(Streams.activities(pilot: "demo-csrp", school: "100001"), on: connection)
        #expect(events[0].data.contains(#""attendance": {"staff": {"teaching": 6}, "pupils": {"ks3": 180}}"#))

        let rejects = Importer.rejects(of: file, summary: summary)
        #expect(rejects.hasPrefix("id,pilot_id,la_id,school_id,kind,date,duration_minutes,mode,pupils_ks3,staff_teaching,rejected_because"))
        let fixed = rejects.replacingOccurrences(of: ",twelve,", with: ",12,")
        let fixedPath = try temporary("activity_delivered-rejects.csv", fixed)
        let again = try await importer.run(try Importer.read(path: fixedPath, type: nil), skipInvalid: false, on: connection)
        #expect(again.committed && again.appended == 1 && again.refused.isEmpty)
    }

    @Test("a rejects file neutralises every cell a spreadsheet would take for a formula, and imports back as the cells were typed")
    func rejectsNeutralised() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        _ = try await importer.run(Importer.readJSONLines(Self.world), skipInvalid: false, on: connection)
        // A refused row whose text cell starts as a formula would (and its count as a negative number).
        let csv = """
            id,pilot_id,la_id,school_id,kind,date,duration_minutes,mode,pupils_ks3,accredited_by
            f1,demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,-5,"=HYPERLINK(""http://evil.example"",""click"")"
            f2,demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,5,@SUM(1+1)
            """
        let file = try Importer.read(path: try temporary("activity_delivered.csv", csv), type: nil)
        let summary = try await importer.run(file, skipInvalid: true, on: connection)
        #expect(summary.refused.map(\.line) == [2])
        let rejects = Importer.rejects(of: file, summary: summary)
        let cells = try Importer.readCSV(rejects, type: "activity_delivered").rows.first?.original ?? []
        #expect(rejects.contains(#"'=HYPERLINK("#) && rejects.contains(",'-5,"), "\(rejects)")
        #expect(
            !rejects.split(separator: "\n").dropFirst().contains { line in
                line.split(separator: ",").contains { ["=", "+", "-", "@"].contains($0.first) }
            })
        #expect(cells.count == 11)
        // Fixed and imported again: the cells read as they were typed, not with the quote.
        let fixed = rejects.replacingOccurrences(of: ",'-5,", with: ",5,")
        let again = try await importer.run(
            try Importer.read(path: try temporary("activity_delivered-rejects.csv", fixed), type: nil), skipInvalid: false, on: connection)
        #expect(again.committed && again.appended == 1, "\(again.refused)")
        let stored = try EventLog.readStream(Streams.activities(pilot: "demo-csrp", school: "100001"), on: connection).map(\.data)
        #expect(stored.contains { $0.contains(#""accredited_by": "=HYPERLINK(\"http://evil.example\",\"click\")""#) }, "\(stored)")
        #expect(CSVLayout.unneutralised(CSVLayout.neutralised("+44 20")) == "+44 20" && CSVLayout.neutralised("plain") == "plain")
    }

    @Test("a cell or a line longer than any record's (a quote never closed) is refused with its line and column, not read into memory")
    func oversizedCells() async throws {
        let header = "id,pilot_id,la_id,school_id,kind,date,duration_minutes,mode,pupils_ks3,accredited_by"
        let unclosed =
            header
            + "\nb1,demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,5,ok\nb2,demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,5,\""
            + String(repeating: "x", count: 200_000) + "\n"
        var source = try Importer.open(path: try temporary("activity_delivered.csv", unclosed), type: nil)
        do {
            while try source.next() != nil {}
            Issue.record("a 200 kB cell was read")
        } catch let refusals as Refusals {
            #expect(refusals.all.first?.field == "accredited_by", "\(refusals)")
            #expect(refusals.all.first?.reason.contains("on line 3") == true && refusals.all.first?.reason.contains("64 KiB") == true, "\(refusals)")
        }
        let plain = header + "\nb1,demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,5," + String(repeating: "y", count: 70_000) + "\n"
        var second = try Importer.open(path: try temporary("activity_delivered.csv", plain), type: nil)
        let error = #expect(throws: Refusals.self) { while try second.next() != nil {} }
        #expect(error?.all.first?.field == "accredited_by")
        let commas = header + "\n" + String(repeating: ",", count: 200_000) + "\n"
        var wide = try Importer.open(path: try temporary("activity_delivered.csv", commas), type: nil)
        let wideError = #expect(throws: Refusals.self) { while try wide.next() != nil {} }
        #expect(wideError?.all.first?.reason.contains("more than 1000 cells") == true, "\(String(describing: wideError))")
        let line = #"{"type":"school_registered","id":"x","data":{"name":""# + String(repeating: "z", count: 3_000_000) + "\"}}\n"
        var lines = try Importer.open(path: try temporary("big.jsonl", line), type: nil)
        let lineError = #expect(throws: Refusals.self) { while try lines.next() != nil {} }
        #expect(lineError?.all.first?.reason.contains("line 1 is longer than 2 MiB") == true, "\(String(describing: lineError))")
    }

    @Test("a CSV header with an unknown column is refused before any row")
    func unknownColumn() async throws {
        let path = try temporary("school_registered.csv", "id,school_id,la_id,name,phase,headteacher\ns1,1,demo,X,primary,Someone\n")
        let error = #expect(throws: Refusals.self) { try Importer.read(path: path, type: nil) }
        #expect(error?.all.map(\.field) == ["headteacher"])
        let untyped = try temporary("schools.csv", "id\n")
        #expect(throws: Refusals.self) { try Importer.read(path: untyped, type: nil) }
    }

    @Test("every record type's example passes its own checks, and every CSV-able template reads back as the example")
    func examplesAndTemplates() async throws {
        // Only records that hold lists of objects (or other records) have no CSV layout.
        #expect(Set(RecordType.recordable.keys.filter { (try? CSVLayout.of($0).get()) == nil }) == ["event_corrected", "safety_plan_agreed"])
        // Records only Reach writes have no template: no one records them.
        #expect((try? CSVLayout.of("summary_exported").get()) == nil)
        for (name, type) in RecordType.all where name != "event_corrected" && name != "event_withdrawn" {
            guard case .object(let fields) = try JSONValue.parse(RecordType.all[name]!.example) else { continue }
            var reader = FieldReader(fields, today: CalendarDate(year: 2026, month: 11, day: 22))
            _ = type.checkData(&reader, "example-1")
            #expect(reader.refusals + reader.unknownFieldRefusals == [], "\(name)")
            guard case .success(let layout) = CSVLayout.of(name) else { continue }
            let file = try Importer.readCSV(layout.template, type: name)
            guard case .success(let envelope) = file.rows.first?.envelope else {
                Issue.record("\(name): the template's row did not read")
                continue
            }
            #expect(JSONValue.object(envelope.data) == JSONValue.object(fields), "\(name)")
        }
    }

    @Test("importing a file gives the outcome of recording its rows one by one, as reach record does", arguments: [false, true])
    func bothPathsAgree(skipInvalid: Bool) async throws {
        let text =
            Self.world + """
                {"type":"school_registered","id":"s2","data":{"school_id":"100002","la_id":"demo","name":"Second School","phase":"primary"}}
                {"type":"school_registered","id":"s2-again","data":{"school_id":"100002","la_id":"demo","name":"Second School","phase":"primary"}}
                {"type":"engagement_stage_reached","id":"e1","data":{"pilot_id":"demo-csrp","school_id":"100001","la_id":"demo","stage":"assessing","date":"2024-10-01"}}
                {"type":"engagement_stage_reached","id":"e2","data":{"pilot_id":"demo-csrp","school_id":"100001","la_id":"demo","stage":"scoping","date":"2024-10-02"}}
                {"type":"engagement_stage_reached","id":"e3","data":{"pilot_id":"demo-csrp","school_id":"100002","la_id":"demo","stage":"identified","date":"2024-10-02"}}
                {"type":"activity_delivered","id":"a1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                {"type":"activity_delivered","id":"a1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                {"type":"activity_delivered","id":"a2","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100009","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                {"type":"activity_delivered","id":"a1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"2024-10-04","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                {"type":"local_authority_registered","id":"la2","data":{"la_id":"other","name":"Other Council","region":"london","joined_on":"2024-09-01"}}
                {"type":"school_registered","id":"s3","data":{"school_id":"200001","la_id":"other","name":"Other School","phase":"primary"}}
                {"type":"activity_delivered","id":"a3","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"200001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                {"type":"activity_delivered","id":"a4","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100002","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}
                """
        var outcomes: [(refused: [String], appended: Int, present: Int, streams: [String])] = []
        for oneByOne in [false, true] {
            let db = try TestDatabase.create()
            let connection = try db.applicationConnection()
            let summary =
                oneByOne
                ? try await recordedOneByOne(text, skipInvalid: skipInvalid, on: connection)
                : Tally(try await importer.run(Importer.readJSONLines(text), skipInvalid: skipInvalid, on: connection))
            let streams = try connection.query(
                "SELECT stream_id || ' ' || string_agg(event_type, ',' ORDER BY version) FROM reach.events GROUP BY stream_id ORDER BY 1"
            )
            .mapRows { try $0.decode(0, as: String.self) }
            outcomes.append(
                (
                    summary.refused.map { "\($0.line) \($0.refusals.map(\.field))" }, summary.committed ? summary.appended : 0,
                    summary.alreadyPresent, streams
                ))
            let other = summary.refused.first { $0.line == 15 }?.refusals.map(\.description)
            #expect(other == ["`school_id` school '200001' belongs to other, not to demo as la_id says"], "one by one: \(oneByOne)")
        }
        #expect(outcomes[0].refused == outcomes[1].refused)
        #expect(outcomes[0].refused == ["5 [\"school_id\"]", "7 [\"stage\"]", "11 [\"school_id\"]", "12 [\"id\"]", "15 [\"school_id\"]"])
        #expect(outcomes[0].appended == outcomes[1].appended)
        #expect(outcomes[0].present == outcomes[1].present)
        #expect(outcomes[0].streams == outcomes[1].streams)
    }

    @Test("corrections and withdrawals judged in a batch come out as when recorded one by one")
    func amendmentsInBatches() async throws {
        let activity =
            #"{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}"#
        let corrected = activity.replacingOccurrences(of: #""ks3":10"#, with: #""ks3":12"#)
        let elsewhere = activity.replacingOccurrences(of: "100001", with: "100002")
        let text =
            Self.world + """
                {"type":"activity_delivered","id":"a1","data":\(activity)}
                {"type":"event_corrected","id":"c1","data":{"record_id":"a1","reason":"the count was 12","data":\(corrected)}}
                {"type":"event_corrected","id":"c2","data":{"record_id":"a1","reason":"moved","data":\(elsewhere)}}
                {"type":"event_withdrawn","id":"w1","data":{"record_id":"a1","reason":"recorded twice"}}
                {"type":"event_withdrawn","id":"w2","data":{"record_id":"a1","reason":"again"}}
                {"type":"event_corrected","id":"c3","data":{"record_id":"a1","reason":"too late","data":\(corrected)}}
                {"type":"event_withdrawn","id":"w3","data":{"record_id":"never-recorded","reason":"no such record"}}
                {"type":"event_withdrawn","id":"w4","data":{"record_id":"c1","reason":"a correction is not withdrawn"}}
                """
        var outcomes: [(refused: [String], appended: Int, streams: [String])] = []
        for oneByOne in [false, true] {
            let db = try TestDatabase.create()
            let connection = try db.applicationConnection()
            let summary =
                oneByOne
                ? try await recordedOneByOne(text, skipInvalid: true, on: connection)
                : Tally(try await importer.run(Importer.readJSONLines(text), skipInvalid: true, on: connection))
            let streams = try connection.query(
                "SELECT stream_id || ' ' || string_agg(event_type, ',' ORDER BY version) FROM reach.events GROUP BY stream_id ORDER BY 1"
            )
            .mapRows { try $0.decode(0, as: String.self) }
            outcomes.append((summary.refused.map { "\($0.refusals.map(\.field))" }, summary.appended, streams))
        }
        #expect(outcomes[0].refused == outcomes[1].refused)
        #expect(outcomes[0].refused == [#"["data"]"#, #"["record_id"]"#, #"["record_id"]"#, #"["record_id"]"#, #"["record_id"]"#])
        #expect(outcomes[0].appended == outcomes[1].appended)
        #expect(outcomes[0].streams == outcomes[1].streams)
        #expect(outcomes[0].streams.contains { $0.hasSuffix("activity_delivered,event_corrected,event_withdrawn") })
    }

    @Test("a correction of a record earlier in the same file may name things the log holds")
    func correctionOfRecordInSameFile() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        let partner = #"{"type":"partner_registered","id":"p9","data":{"partner_id":"partner-9","name":"Youth work","kind":"youth_work"}}"#
        let setup = try await importer.run(Importer.readJSONLines(Self.world + partner), skipInvalid: false, on: connection)
        #expect(setup.committed, "\(setup.refused.map(\.refusals))")
        let activity =
            #"{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}"#
        let withPartner = activity.replacingOccurrences(of: #""mode""#, with: #""delivered_by":{"partners":["partner-9"]},"mode""#)
        let text = """
            {"type":"activity_delivered","id":"a1","data":\(activity)}
            {"type":"event_corrected","id":"c1","data":{"record_id":"a1","reason":"a partner came","data":\(withPartner)}}
            """
        let summary = try await importer.run(Importer.readJSONLines(text), skipInvalid: false, on: connection)
        #expect(summary.refused.map(\.refusals) == [])
        #expect(summary.committed && summary.appended == 2)
    }

    @Test("chunks appended in bulk, a withdrawal among them, keep each stream's positions in version order")
    func mixedPaths() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        func activity(_ id: String) -> String {
            #"{"type":"activity_delivered","id":"\#(id)","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}"#
        }
        let small = Importer(recorder: importer.recorder, chunkSize: 2)
        let world = try Importer.open(path: try temporary("world.jsonl", Self.world + activity("a1") + "\n"), type: nil)
        #expect(try await small.run(source: world, skipInvalid: false, on: connection).appended == 4)
        // Chunks of 2 on one stream, all in bulk: a2 and a3 (positions for the next chunk drawn
        // with theirs), a4 and a withdrawal of a1 (placed on a1's stream), then a5 and a6.
        let withdrawal = #"{"type":"event_withdrawn","id":"w1","data":{"record_id":"a1","reason":"recorded twice"}}"#
        let text = [activity("a2"), activity("a3"), activity("a4"), withdrawal, activity("a5"), activity("a6")].joined(separator: "\n") + "\n"
        let source = try Importer.open(path: try temporary("mixed.jsonl", text), type: nil)
        let summary = try await small.run(source: source, skipInvalid: false, on: connection)
        #expect(summary.committed && summary.appended == 6)
        let backwards = try connection.query(
            """
            SELECT count(*) FROM (SELECT "position" < lag("position") OVER (PARTITION BY stream_id ORDER BY version) AS back
                                  FROM reach.events) x WHERE back
            """
        ).decode(Int.self, row: 0, column: 0)
        #expect(backwards == 0)
        #expect(try EventLog.verify(on: connection).ok)
    }

    @Test("a file read as a stream, in chunks: references and repeats across chunks, all or nothing, line numbers")
    func chunkedStream() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        func activity(_ id: String, kind: String = "assembly") -> String {
            #"{"type":"activity_delivered","id":"\#(id)","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"\#(kind)","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}"#
        }
        // Chunks of 2 rows: the pilot (line 3) and the school (line 2) are registered in
        // chunks before the activities that need them; a1 repeats in a later chunk.
        let small = Importer(recorder: importer.recorder, chunkSize: 2)
        let good = Self.world + [activity("a1"), activity("a2"), activity("a3"), activity("a1")].joined(separator: "\n") + "\n"
        let goodPath = try temporary("good.jsonl", good)
        var source = try Importer.open(path: goodPath, type: nil)
        let summary = try await small.run(source: source, skipInvalid: false, on: connection)
        #expect(summary.committed && summary.read == 7 && summary.appended == 6 && summary.alreadyPresent == 1)
        #expect(try count(db) == 6)

        // A bad row in the last chunk undoes the earlier chunks too.
        let other = try TestDatabase.create()
        let otherConnection = try other.applicationConnection()
        let bad = Self.world + [activity("b1"), activity("b2"), activity("b3", kind: "asembly")].joined(separator: "\n")
        var badSource = try Importer.open(path: try temporary("bad.jsonl", bad), type: nil)
        let refused = try await small.run(source: badSource, skipInvalid: false, on: otherConnection)
        #expect(!refused.committed && refused.refused.map(\.line) == [6] && refused.refused[0].refusals.map(\.field) == ["kind"])
        #expect(try count(other) == 0)
    }

    @Test("records already in the log, found late in a file, give the outcome of a file checked id by id")
    func foundLate() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        func activity(_ id: String, date: String = "2024-10-03") -> String {
            #"{"type":"activity_delivered","id":"\#(id)","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"100001","kind":"assembly","date":"\#(date)","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}"#
        }
        let small = Importer(recorder: importer.recorder, chunkSize: 3)
        var first = try Importer.open(path: try temporary("first.jsonl", Self.world + activity("old-1") + "\n" + activity("old-2") + "\n"), type: nil)
        let new = try await small.run(source: first, skipInvalid: false, on: connection)
        #expect(new.appended == 5 && new.passes == 1)

        // New rows first; in the last chunk, one row the log holds and one that reuses an id
        // for a different record.
        let later = (1...7).map { activity("new-\($0)") } + [activity("old-1"), activity("old-2", date: "2024-10-04")]
        let path = try temporary("later.jsonl", later.joined(separator: "\n") + "\n")
        var source = try Importer.open(path: path, type: nil)
        let refused = try await small.run(source: source, skipInvalid: false, on: connection)
        #expect(!refused.committed && refused.read == 9 && refused.alreadyPresent == 1 && refused.passes == 2)
        #expect(refused.refused.map(\.line) == [9] && refused.refused[0].refusals.map(\.field) == ["id"])
        #expect(try count(db) == 5)

        var again = try Importer.open(path: path, type: nil)
        let kept = try await small.run(source: again, skipInvalid: true, on: connection)
        #expect(kept.committed && kept.appended == 7 && kept.alreadyPresent == 1 && kept.refused.map(\.line) == [9])
        #expect(try count(db) == 12)
        // The chunks' stream heads were written at the end: the next record follows them.
        let after = try RecordWriter(recorder: importer.recorder).record(activity("after"), on: connection).outcome
        #expect({ if case .accepted = after { true } else { false } }(), "\(after)")
        #expect(try EventLog.verify(on: connection).ok)
        #expect(
            try EventLog.readStream(Streams.activities(pilot: "demo-csrp", school: "100001"), limit: 100, on: connection).map(\.version)
                == Array(1...10))
    }

    @Test("a file that stops being readable after some chunks appends nothing, and the error names where")
    func unreadableMidway() async throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        #expect(try await importer.run(Importer.readJSONLines(Self.world), skipInvalid: false, on: connection).committed)
        let before = try count(db)
        // Chunks of 3 rows are read ahead while earlier ones are appended; line 9's quote never closes.
        var csv = "id,pilot_id,la_id,school_id,kind,date,duration_minutes,mode,pupils_ks3\n"
        for n in 1...7 { csv += "m\(n),demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,\(n)\n" }
        csv += "m8,demo-csrp,demo,100001,\"assembly,2024-10-03,45,in_person,8\n"
        var source = try Importer.open(path: try temporary("activity_delivered.csv", csv), type: nil)
        let small = Importer(recorder: importer.recorder, chunkSize: 3)
        do {
            _ = try await small.run(source: source, skipInvalid: false, on: connection)
            Issue.record("an unreadable file was imported")
        } catch let refusals as Refusals {
            #expect(refusals.all.first?.reason.contains("on line 9") == true, "\(refusals)")
        }
        #expect(!connection.isInTransaction)
        #expect(try count(db) == before)
    }

    @Test("a CSV file read as a stream gives the same rows as one read whole")
    func csvStream() async throws {
        let csv = """
            id,pilot_id,la_id,school_id,kind,date,duration_minutes,mode,pupils_ks3,staff_teaching
            a1,demo-csrp,demo,100001,assembly,2024-10-03,45,in_person,180,6
            a2,demo-csrp,demo,100001,"staff_training",2024-10-04,90,in_person,,12

            a3,demo-csrp,demo,100001,restorative_circle,2024-10-05,60,virtual,12,1
            """
        let path = try temporary("activity_delivered.csv", "\u{FEFF}" + csv)
        var source = try Importer.open(path: path, type: nil)
        var streamed: [Importer.Row] = []
        while let row = try source.next() { streamed.append(row) }
        let whole = try Importer.readCSV(csv, type: "activity_delivered")
        #expect(streamed.map(\.line) == [2, 3, 5] && whole.rows.map(\.line) == [2, 3, 5])
        #expect(streamed.map(\.original) == whole.rows.map(\.original))
        #expect(source.csvHeader == whole.csvHeader)
    }
}
