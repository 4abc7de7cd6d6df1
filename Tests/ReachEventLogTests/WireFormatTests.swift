import Foundation
import ReachCalendar
import ReachEventLog
import ReachPostgres
import Testing

@Suite("wire formats")
struct WireFormatTests {
    @Test("an event's JSON line parses back, whatever its strings hold")
    func jsonLineParses() throws {
        let event = RecordedEvent(
            position: 7, eventID: UUID(), streamID: "school \"A\" \\ tab\t nl\n bell\u{07} é 🏫", version: 2,
            type: "activity_delivered", schemaVersion: 1, data: #"{"kind": "assembly"}"#, metadata: #"{"actor": "x"}"#,
            occurredOn: CalendarDate(year: 2024, month: 9, day: 2), recordedAt: "2024-09-02T10:00:00.000001Z",
            authorityID: nil, hash: "00ff")
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(event.jsonLine.utf8)) as? [String: Any])
        #expect(parsed["stream_id"] as? String == event.streamID)
        #expect(parsed["event_id"] as? String == event.eventID.uuidString.lowercased())
        #expect(parsed["occurred_on"] as? String == "2024-09-02")
        #expect(parsed["authority_id"] is NSNull)
        #expect((parsed["data"] as? [String: Any])?["kind"] as? String == "assembly")
    }

    @Test("metadata is a JSON object with snake_case keys")
    func metadataJSON() throws {
        let metadata = EventMetadata(actor: "staff \"one\"", correlationID: "c-1", causationID: nil, source: "cli")
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(metadata.json.utf8)) as? [String: String])
        #expect(parsed == ["actor": "staff \"one\"", "correlation_id": "c-1", "source": "cli"])
        #expect(EventMetadata().json == "{}")
    }

    @Test("numbers, ids and hashes go into COPY text as they would through strings")
    func copyTextFields() {
        for number: Int64 in [0, 7, 9, 10, 99, 100, -1, -10, 1_234_567_890, .max, .min, .max - 1, .min + 1, 999_999_999_999_999_999] {
            var bytes: [UInt8] = []
            bytes.appendDecimal(number)
            #expect(String(decoding: bytes, as: UTF8.self) == String(number))
        }
        let id = UUID()
        var text = CopyText()
        text.appendField(42)
        text.appendField(id)
        text.appendField(bytea: [0x00, 0x0f, 0xa0, 0xff], last: true)
        var byStrings = CopyText()
        byStrings.appendField("42")
        byStrings.appendField(id.uuidString.lowercased())
        byStrings.appendField("\\x000fa0ff", last: true)
        #expect(text.bytes == byStrings.bytes)
        #expect(String(decoding: text.bytes, as: UTF8.self) == "42\t\(id.uuidString.lowercased())\t\\\\x000fa0ff\n")
    }

    @Test("new event ids are version 7 and sort by time of creation")
    func timeOrderedIDs() {
        let earlier = UUID.timeOrdered(now: Date(timeIntervalSince1970: 1_700_000_000))
        let later = UUID.timeOrdered(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(earlier.lowercasedString < later.lowercasedString)
        #expect(Array(earlier.lowercasedString)[14] == "7")
        #expect("89ab".contains(Array(earlier.lowercasedString)[19]))
        #expect(UUID.timeOrdered() != UUID.timeOrdered())
        #expect(UUID(uuidString: earlier.lowercasedString) == earlier)
    }

    @Test("expected versions parse from the command line's words")
    func expectedVersionWords() {
        #expect(ExpectedVersion("any") == .any)
        #expect(ExpectedVersion("none") == .noStream)
        #expect(ExpectedVersion("0") == .noStream)
        #expect(ExpectedVersion("12") == .exactly(12))
        #expect(ExpectedVersion("-1") == nil)
        #expect(ExpectedVersion("latest") == nil)
    }
}
