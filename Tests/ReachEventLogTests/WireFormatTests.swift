import Foundation
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
            occurredOn: PostgresDate(year: 2024, month: 9, day: 2), recordedAt: "2024-09-02T10:00:00.000001Z",
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
