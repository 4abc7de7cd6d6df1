import Foundation
import ReachEventLog
import ReachPostgres
import ReachTestSupport
import Testing

/// What a seal catches that the hash chains cannot: changes by whoever controls the database.
@Suite("seals")
struct SealTests {
    /// A log of three streams of four events each, sealed.
    func sealed() throws -> (TestDatabase, Connection, Seal) {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        for n in 0..<12 { _ = try EventLog.append([sampleEvent("s-\(n % 3)", n)], on: owner) }
        let seal = try EventLog.seal(privateKey: try Ed25519.newPrivateKey(), on: owner)
        #expect(seal.heads.count == 3)
        #expect(try EventLog.verify(against: seal, on: owner).ok)
        // Read back from its file, it is the same seal, and it still verifies.
        let read = try Seal(fileText: seal.fileText)
        #expect(read == seal)
        try read.verified(publicKey: seal.publicKey)
        return (db, owner, seal)
    }

    /// As a superuser: `sql` with the log's append-only trigger off.
    func tamper(_ sql: String, on connection: Connection) throws {
        try connection.executeScript(
            """
            ALTER TABLE reach.events DISABLE TRIGGER events_append_only;
            \(sql);
            ALTER TABLE reach.events ENABLE TRIGGER events_append_only;
            """)
    }

    @Test("a stream's tail deleted (and its head moved back to match) is found, with the stream named")
    func truncation() throws {
        let (_, owner, seal) = try sealed()
        try tamper(
            "DELETE FROM reach.events WHERE stream_id = 's-1' AND version > 2; UPDATE reach.streams SET version = 2, last_hash = (SELECT hash FROM reach.events WHERE stream_id = 's-1' AND version = 2), last_recorded_at = (SELECT recorded_at FROM reach.events WHERE stream_id = 's-1' AND version = 2) WHERE stream_id = 's-1'",
            on: owner)
        // The chains and heads hold: only the seal tells.
        #expect(try EventLog.verify(on: owner).ok)
        let report = try EventLog.verify(against: seal, on: owner)
        #expect(report.firstBroken?.streamID == "s-1")
        #expect(report.firstBroken?.reason.contains("deleted") == true)
    }

    @Test("a whole stream deleted is found")
    func deletion() throws {
        let (_, owner, seal) = try sealed()
        try tamper("DELETE FROM reach.events WHERE stream_id = 's-2'; DELETE FROM reach.streams WHERE stream_id = 's-2'", on: owner)
        #expect(try EventLog.verify(on: owner).ok)
        let report = try EventLog.verify(against: seal, on: owner)
        #expect(report.firstBroken?.streamID == "s-2")
        #expect(report.firstBroken?.reason.contains("gone") == true)
    }

    @Test("a stream rewritten and re-chained is found")
    func rewriting() throws {
        let (_, owner, seal) = try sealed()
        try tamper(
            """
            UPDATE reach.events SET data = '{"n": 999}' WHERE stream_id = 's-0' AND version = 2;
            UPDATE reach.events e SET hash = r.hash FROM (
                SELECT "position", reach.chain('\\x'::bytea, reach.event_digest_input(event_id, stream_id, version, event_type, schema_version,
                       data, metadata, occurred_on, authority_id, recorded_at)) OVER (ORDER BY version) AS hash
                FROM reach.events WHERE stream_id = 's-0') r
            WHERE e."position" = r."position";
            UPDATE reach.streams SET last_hash = (SELECT hash FROM reach.events WHERE stream_id = 's-0' ORDER BY version DESC LIMIT 1) WHERE stream_id = 's-0'
            """, on: owner)
        #expect(try EventLog.verify(on: owner).ok)
        let report = try EventLog.verify(against: seal, on: owner)
        #expect(report.firstBroken?.streamID == "s-0")
        #expect(report.firstBroken?.reason.contains("rewritten") == true)
    }

    @Test("a seal changed after signing, or signed by another key than the operator's, is refused")
    func forgedSeal() throws {
        let (_, owner, seal) = try sealed()
        var changed = seal
        changed.heads.removeLast()
        #expect(throws: SealError.self) { try EventLog.verify(against: changed, on: owner) }
        let other = try EventLog.seal(privateKey: try Ed25519.newPrivateKey(), on: owner)
        #expect(throws: SealError.self) { try EventLog.verify(against: other, publicKey: seal.publicKey, on: owner) }
        // Appending after the seal is what a log does: still verifies.
        _ = try EventLog.append([sampleEvent("s-0", 99)], on: owner)
        #expect(try EventLog.verify(against: seal, on: owner).ok)
    }
}
