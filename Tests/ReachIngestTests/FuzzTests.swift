import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import Testing

/// A small deterministic generator (SplitMix64), so a failing input can be found again.
struct FuzzRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Values that have broken parsers: numbers beyond `Int`, beyond `Double`, fractions, negative
/// zero, text where numbers belong, control characters, long text, deep nesting.
let hostileValues: [JSONValue] = [
    .number(1e19), .number(-1e19), .number(1e308), .number(-1e308), .number(9_007_199_254_740_993), .number(0.5),
    .number(-0.0), .number(4.9e-324), .number(Double(Int.max)), .number(Double(Int.min)),
    .string("inf"), .string("nan"), .string("1e400"), .string(""), .string(" "), .string("\u{0}"), .string("\u{1B}[2J"),
    .string(String(repeating: "x", count: 5_000)), .string("2024-02-30"), .string("9999-12-31"), .string("-1"),
    .null, .bool(true), .array([]), .array([.number(1e19)]), .array([.number(-1e19), .number(1e308)]),
    .array([.string("inf"), .null, .object([:])]), .object([:]), .object(["x": .number(1e19)]),
    .array([.array([.array([.number(1e19)])])]),
]

/// CSV cells that have broken the import: infinities, not-a-number, overflowing exponents,
/// hexadecimal, lists of them, quotes and separators.
let hostileCells = [
    "inf", "-inf", "nan", "NaN", "1e400", "-1e400", "1e19", "-1e19", "9223372036854775808", "0x10", "1;1e19;inf",
    "1e19;1e19", ";;", "\"", "\"\"", "a,b", "0.5", "-0", "+5", "1_000", "١٢", " 12 ", "true", "2024-02-30", "\u{7}",
]

/// Replaces the value at a random place of `value` (descending into objects and arrays).
func mutate(_ value: JSONValue, _ random: inout FuzzRandom, depth: Int = 0) -> JSONValue {
    switch value {
    case .object(var object) where !object.isEmpty && depth < 4 && random.below(4) != 0:
        let keys = object.keys.sorted()
        let key = random.pick(keys)
        object[key] = mutate(object[key]!, &random, depth: depth + 1)
        if random.below(8) == 0 { object["unexpected_\(random.below(3))"] = random.pick(hostileValues) }
        return .object(object)
    case .array(var items) where !items.isEmpty && depth < 4 && random.below(4) != 0:
        let index = random.below(items.count)
        items[index] = mutate(items[index], &random, depth: depth + 1)
        return .array(items)
    default:
        return random.pick(hostileValues)
    }
}

@Suite("parsers under generated input")
struct FuzzTests {
    let today = CalendarDate(year: 2026, month: 11, day: 22)

    @Test("the numbers that crashed the process are refused with the field named")
    func reportedCrashes() throws {
        let pilot = try JSONValue.parse(RecordType.pilotRegistered.example)
        guard case .object(var data) = pilot else {
            Issue.record("the example is not an object")
            return
        }
        data["objectives"] = .array([.number(1e19)])
        guard case .failure(let refusals) = RecordType.all["pilot_registered"]!.checkFields(data, id: "p-1", today: today) else {
            Issue.record("objectives [1e19] was accepted")
            return
        }
        #expect(refusals.all.map(\.field) == ["objectives"])
        // The same through a whole JSON record as `reach record` reads it.
        let record = #"{"type":"pilot_registered","id":"p-1","data":\#(JSONValue.object(data).text)}"#
        guard case .success(let envelope) = Recorder.Envelope.parse(record) else {
            Issue.record("the envelope was refused")
            return
        }
        #expect(envelope.type.checkFields(envelope.data, id: envelope.id, today: today).refusedFields == ["objectives"])

        let layout = try CSVLayout.of("activity_delivered").get()
        for cell in ["inf", "nan", "1e400", "1e19"] {
            let row = layout.exampleRow.enumerated().map { index, value in layout.header[index] == "duration_minutes" ? cell : value }
            let file = try Importer.readCSV(
                layout.header.joined(separator: ",") + "\n" + row.map(csvQuoted).joined(separator: ",") + "\n",
                type: "activity_delivered")
            guard case .success(let envelope) = file.rows[0].envelope else {
                Issue.record("\(cell): the envelope was refused")
                continue
            }
            #expect(envelope.type.checkFields(envelope.data, id: envelope.id, today: today).refusedFields == ["duration_minutes"], "cell \(cell)")
        }
    }

    @Test("no generated record crashes the checks, and every refusal names a field and a reason")
    func records() throws {
        var random = FuzzRandom(state: 20_261_130)
        var refused = 0
        for type in RecordType.all.keys.sorted() {
            let example = try JSONValue.parse(RecordType.all[type]!.example)
            for _ in 0..<300 {
                let data = mutate(example, &random)
                let record = JSONValue.object([
                    "type": .string(type), "id": random.pick([.string("r-1"), .string(" r-1 "), random.pick(hostileValues)]), "data": data,
                ])
                // Through the text, as `reach record` and JSON Lines imports read it.
                switch Recorder.Envelope.parse(record.text) {
                case .failure(let refusals):
                    refused += 1
                    #expect(refusals.all.allSatisfy { !$0.field.isEmpty && !$0.reason.isEmpty })
                case .success(let envelope):
                    if case .failure(let refusals) = envelope.type.checkFields(envelope.data, id: envelope.id, today: today) {
                        refused += 1
                        #expect(refusals.all.allSatisfy { !$0.field.isEmpty && !$0.reason.isEmpty })
                    }
                    // A refused row is written back to a rejects file: that must not crash either.
                    if case .success(let layout) = CSVLayout.of(type) { _ = layout.row(id: envelope.id, data: envelope.data) }
                }
            }
        }
        #expect(refused > 0)
    }

    @Test("no generated JSON text crashes the reader: bytes cut, repeated and replaced")
    func jsonText() throws {
        var random = FuzzRandom(state: 7)
        let pieces = Array("{}[]\",:0123456789.eE+-truefalsenull\\u00 \n".utf8)
        for type in RecordType.all.keys.sorted() {
            let text = Array(#"{"type":"\#(type)","id":"x","data":\#(RecordType.all[type]!.example)}"#.utf8)
            for _ in 0..<200 {
                var bytes = text
                for _ in 0...random.below(4) {
                    let at = random.below(bytes.count)
                    switch random.below(4) {
                    case 0: bytes.removeSubrange(at..<min(bytes.count, at + 1 + random.below(8)))
                    case 1: bytes.insert(random.pick(pieces), at: at)
                    case 2: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                    default: bytes.insert(contentsOf: Array("1e19".utf8), at: at)
                    }
                    if bytes.isEmpty { bytes = [UInt8(ascii: "{")] }
                }
                if case .success(let envelope) = Recorder.Envelope.parse(String(decoding: bytes, as: UTF8.self)) {
                    _ = envelope.type.checkFields(envelope.data, id: envelope.id, today: today)
                }
            }
        }
    }

    @Test("no generated CSV cell crashes the import's reading and checks, in any column of any type")
    func csvCells() throws {
        var random = FuzzRandom(state: 11)
        for type in RecordType.all.keys.sorted() {
            guard case .success(let layout) = CSVLayout.of(type) else { continue }
            let header = layout.header.map(csvQuoted).joined(separator: ",")
            var lines: [String] = []
            for column in layout.header.indices {
                for cell in hostileCells {
                    var row = layout.exampleRow
                    row[column] = cell
                    if random.below(3) == 0 { row[random.below(row.count)] = random.pick(hostileCells) }
                    lines.append(row.map(csvQuoted).joined(separator: ","))
                }
            }
            let file = try Importer.readCSV(header + "\n" + lines.joined(separator: "\n") + "\n", type: type)
            #expect(file.rows.count == lines.count)
            for row in file.rows {
                guard case .success(let envelope) = row.envelope else { continue }
                _ = envelope.type.checkFields(envelope.data, id: envelope.id, today: today)
                _ = layout.row(id: envelope.id, data: envelope.data)
            }
        }
    }

    @Test("a record's id means the same in JSON and in CSV: surrounding spaces are not part of it")
    func idsTrimmed() throws {
        guard case .success(let json) = Recorder.Envelope.parse(#"{"type":"school_registered","id":" act-1 ","data":{}}"#) else {
            Issue.record("the envelope was refused")
            return
        }
        #expect(json.id == "act-1")
        let header = try CSVLayout.of("school_registered").get().header.joined(separator: ",")
        let file = try Importer.readCSV(header + "\n act-1 ,100001,demo,Example Academy,secondary\n", type: "school_registered")
        guard case .success(let csv) = file.rows[0].envelope else {
            Issue.record("the CSV row was refused")
            return
        }
        #expect(csv.id == json.id)
        #expect(Recorder.Envelope.recordID("   ") == nil)
    }
}

/// A cell as CSV writes it: quoted when it holds a comma, a quote or a line break.
func csvQuoted(_ cell: String) -> String {
    cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
}

extension Result where Success == CheckedRecord, Failure == Refusals {
    /// The fields refused, or empty when the record passed.
    var refusedFields: [String] {
        if case .failure(let refusals) = self { return refusals.all.map(\.field) }
        return []
    }
}
