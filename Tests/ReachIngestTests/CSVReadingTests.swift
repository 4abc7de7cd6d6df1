import Foundation
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachTestSupport
import Testing

@Suite("reading CSV and writing jsonb text")
struct CSVReadingTests {
    static let header = "id,pilot_id,la_id,school_id,kind,date,duration_minutes,mode,pupils_ks3,staff_teaching,delivered_by_team"

    func file(_ bytes: [UInt8]) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reach-csv-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/activity_delivered.csv"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func rows(_ text: String) throws -> [Importer.Row] {
        var source = try Importer.open(path: try file(Array(text.utf8)), type: nil)
        var rows: [Importer.Row] = []
        while let row = try source.next() { rows.append(row) }
        return rows
    }

    @Test("quoted cells hold commas, line breaks and doubled quotes; CRLF and LF both end a record; no newline at the end is fine")
    func quoting() throws {
        let text =
            Self.header + "\r\n"
            + "a1,p,la,100001,assembly,2024-10-03,45,in_person,180,6,\"in the hall, year 9\"\r\n"
            + "a2,p,la,100001,assembly,2024-10-04,45,in_person,180,6,\"two\nlines and \"\"quotes\"\"\"\n"
            + "a3,p,la,100001,assembly,2024-10-05,45,in_person,,,"
        let read = try rows(text)
        #expect(read.map(\.id) == ["a1", "a2", "a3"])
        #expect(read[0].original.last == "in the hall, year 9")
        #expect(read[1].original.last == "two\nlines and \"quotes\"")
        #expect(read[2].original.count == 11 && read[2].original.last == "")
    }

    @Test("a cell whose quote never closes, or bytes that are not UTF-8, are refused with the line")
    func refusals() throws {
        let open = Self.header + "\na1,p,la,100001,assembly,2024-10-03,45,in_person,180,6,\"never closed\n"
        #expect(throws: Refusals.self) { _ = try rows(open) }
        let latin1 = Array((Self.header + "\na1,p,la,100001,assembly,2024-10-03,45,in_person,180,6,caf").utf8) + [0xE9, 0x0A]
        var source = try Importer.open(path: try file(latin1), type: nil)
        do {
            _ = try source.next()
            Issue.record("a file that is not UTF-8 was read")
        } catch let refusals as Refusals {
            #expect(refusals.all.first?.reason.contains("not UTF-8") == true)
            #expect(refusals.all.first?.reason.contains("on line 2") == true)
        }
    }

    @Test("a file of blocks larger than the reader's reads back every row")
    func largeFile() throws {
        var text = Self.header + "\n"
        for n in 0..<30_000 { text += "row-\(n),p,la,100001,assembly,2024-10-03,45,in_person,\(n % 200),6,\"note, \(n)\"\n" }
        let read = try rows(text)
        #expect(read.count == 30_000)
        #expect(read.last?.id == "row-29999" && read.last?.original.last == "note, 29999")
        #expect(read.last?.line == 30_001)
    }

    @Test("an object keeps its fields once each, in jsonb's order, whatever order they are given in")
    func objectOrder() throws {
        var object: JSONObject = ["school_id": .string("1"), "kind": .string("a"), "la_id": .string("x"), "date": .string("d")]
        #expect(object.keys == ["date", "kind", "la_id", "school_id"])
        object["id"] = .number(1)
        object["kind"] = .string("b")
        #expect(object.keys == ["id", "date", "kind", "la_id", "school_id"] && object["kind"] == .string("b"))
        #expect(object.removeValue(forKey: "date") == .string("d") && object["date"] == nil && object.count == 4)
        object["la_id"] = nil
        #expect(object.keys == ["id", "kind", "school_id"])
        let reversed = JSONObject(object.reversed().map { ($0.key, $0.value) })
        #expect(reversed == object && reversed.hashValue == object.hashValue)
        #expect(try JSONValue.parse(#"{"b": 1, "a": 2, "b": 3}"#) == .object(["a": .number(2), "b": .number(3)]))
    }

    @Test(
        "a row's cells fill the record's objects: empty cells and empty objects are left out, and a column given twice takes its last value that is not empty"
    )
    func filling() throws {
        let layout = try CSVLayout.of("activity_delivered").get()
        let header = [
            "id", "pupils_ks3", "kind", "staff_teaching", "pupils_ks4", "online", "delivered_by_partners", "kind", "duration_minutes",
            "rejected_because",
        ]
        let columns = try layout.match(header: header).get().columns
        let filler = CSVLayout.Filler(columns: columns)
        let data = filler.data(of: ["a1", "180", "assembly", "", " 20 ", "yes", "p-1; p-2", "", "45x", "why"])
        var expected = JSONObject()
        expected["kind"] = .string("assembly")
        expected["online"] = .bool(true)
        expected["duration_minutes"] = .string("45x")
        expected["delivered_by"] = .object(["partners": .array([.string("p-1"), .string("p-2")])])
        expected["attendance"] = .object(["pupils": .object(["ks4": .number(20), "ks3": .number(180)])])
        #expect(data == expected)
        #expect(data.keys == ["kind", "online", "attendance", "delivered_by", "duration_minutes"])
        #expect(filler.data(of: ["a2", "", "circle", "", "", "", "", "summit", ""])["kind"] == .string("summit"))
        #expect(filler.data(of: ["a3"]).isEmpty)
    }

    @Test("a field that no rule reads is refused, among any number of fields")
    func unknownFields() {
        let fields = JSONObject((0..<70).map { (String(format: "f%02d", $0), JSONValue.number(1)) })
        var reader = FieldReader(fields, today: .today)
        for index in 0..<70 where index != 3 && index != 66 { _ = reader.count(String(format: "f%02d", index)) }
        #expect(reader.unknownFieldRefusals.map(\.field) == ["f03", "f66"])
        _ = reader.count("f03")
        _ = reader.count("f66")
        #expect(reader.unknownFieldRefusals.isEmpty)
        var small = FieldReader(["a": .number(1), "bb": .number(2)], path: "attendance", today: .today)
        _ = small.count("a")
        #expect(small.unknownFieldRefusals.map(\.field) == ["attendance.bb"])
    }

    @Test("a CSV row's id is checked as a JSON record's is")
    func csvIDs() throws {
        let header = try CSVLayout.of("school_registered").get().header.joined(separator: ",")
        let long = String(repeating: "x", count: 101)
        let file = try Importer.readCSV(
            header + "\n,100001,demo,Example Academy,secondary\n\(long),100002,demo,B,primary\ns-3,100003,demo,C,primary\n", type: "school_registered"
        )
        for row in file.rows {
            let json = Recorder.Envelope.parse(
                .object([
                    "type": .string("school_registered"), "id": row.id.map(JSONValue.string) ?? .null,
                    "data": .object(["school_id": .string("x")]),
                ]))
            switch (row.envelope, json) {
            case (.failure(let csv), .failure(let fromJSON)): #expect(csv.all.map(\.description) == fromJSON.all.map(\.description))
            case (.success(let envelope), .success): #expect(envelope.id == "s-3" && envelope.type.name == "school_registered")
            default: Issue.record("line \(row.line): the CSV and JSON envelopes disagree")
            }
        }
        #expect(file.rows.map { if case .failure = $0.envelope { true } else { false } } == [true, true, false])
    }

    @Test("records' data is written as jsonb prints it")
    func jsonb() throws {
        // No migrations: only the server's jsonb is needed, so connect as the owner (the
        // application's login is created by migrating, which this database skips).
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        let value = JSONValue.object([
            "kind": .string("assembly"),
            "attendance": .object(["staff": .object(["teaching": .number(7), "dsl": .number(1)]), "pupils": .object(["ks3": .number(210)])]),
            "duration_minutes": .number(45), "notes": .string("tab\t, quote \" and \u{8} é"), "list": .array([.number(1.5), .bool(true), .null]),
        ])
        let server: String = try connection.query("SELECT $1::jsonb::text", [value.text]).decode(row: 0, column: 0)
        #expect(value.jsonbText == server)
        #expect(value.jsonbBytes.exact && String(decoding: value.jsonbBytes.bytes, as: UTF8.self) == server)
        #expect(JSONBText.canonical(value.jsonbText).map { String(decoding: $0, as: UTF8.self) } == server)
        // Numbers Swift prints with an exponent are not what jsonb prints: they are not vouched for.
        for number in [1e-7, 1.5e20, -2.5e-5] {
            let small = JSONValue.object(["n": .number(number)])
            let printed: String = try connection.query("SELECT $1::jsonb::text", [small.text]).decode(row: 0, column: 0)
            #expect(!small.jsonbBytes.exact && small.jsonbText != printed)
        }
        for number in [0.25, -1.75, 123456.5, 0.30000000000000004, 1e14] {
            let plain = JSONValue.object(["n": .number(number)])
            let printed: String = try connection.query("SELECT $1::jsonb::text", [plain.text]).decode(row: 0, column: 0)
            #expect(plain.jsonbBytes.exact && plain.jsonbText == printed, "\(number)")
        }
    }
}
