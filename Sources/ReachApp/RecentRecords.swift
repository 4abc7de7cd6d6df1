import Foundation
import ReachDomain
import ReachEventLog
import ReachPostgres

/// A record as the list of recent records shows it: what it is, where, when, by whom, and
/// whether it was corrected or withdrawn since.
public struct RecentRecord: Sendable {
    public var position: Int64
    /// The sender's id of the record, which a correction or withdrawal names.
    public var recordID: String
    public var type: String
    public var authority: String?
    /// The day it happened, where its type has one.
    public var occurredOn: String?
    public var recordedAt: String
    public var actor: String?
    /// `recorded`, `corrected` or `withdrawn`.
    public var status: String
    /// The data as it stands: its latest correction's (as the correction recorded it), else
    /// its own, read by the current version of its type.
    public var data: JSONObject
    /// Whether a correction or withdrawal of it may be sent (its type is amendable and it is
    /// not withdrawn).
    public var amendable: Bool
}

extension ReachApplication {
    /// The newest records the asker may correct or withdraw (staff: their authorities';
    /// admins: everyone's), newest first. PostgreSQL decides the scope again, from the
    /// request's own settings (`reach.recent_records`).
    public func recentRecords(limit: Int = 25, as identity: Identity) async throws -> [RecentRecord] {
        try await recentRecords(limit: limit, eventID: nil, as: identity)
    }

    /// One record of the asker's scope by its id; ``NotFound`` when there is none the asker may see.
    public func recentRecord(id: String, as identity: Identity) async throws -> RecentRecord {
        guard let id = Recorder.Envelope.existingRecordID(id),
            let found = try await recentRecords(limit: 1, eventID: EventLog.recordEventID(id), as: identity).first
        else {
            throw NotFound("no record '\(id.prefix(100))' of your authorities")
        }
        return found
    }

    private func recentRecords(limit: Int, eventID: UUID?, as identity: Identity) async throws -> [RecentRecord] {
        try Access.checkMayRecord(identity)
        return try await database.withConnection(.request(identity, reading: true)) { connection in
            let found = try connection.query(
                """
                SELECT "position", record_id, event_type, schema_version, authority_id, occurred_on::text,
                       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), actor, data::text, status, corrected_data::text
                FROM reach.recent_records($1, $2)
                """, [Int32(clamping: limit), eventID])
            var records: [RecentRecord] = []
            for row in 0..<found.rowCount {
                let type: String = try found.decode(row: row, column: 2)
                let version: Int32 = try found.decode(row: row, column: 3)
                let corrected = try found.decodeIfPresent(String.self, row: row, column: 10)
                var data = JSONObject()
                if let corrected, case .object(let fields) = try JSONValue.parse(corrected) {
                    data = fields
                } else if case .object(let fields) = try JSONValue.parse(try found.decode(String.self, row: row, column: 8)) {
                    data = RecordType.all[type]?.upcast(fields, from: version) ?? fields
                }
                let status: String = try found.decode(row: row, column: 9)
                records.append(
                    RecentRecord(
                        position: try found.decode(row: row, column: 0), recordID: try found.decode(row: row, column: 1), type: type,
                        authority: try found.decodeIfPresent(row: row, column: 4), occurredOn: try found.decodeIfPresent(row: row, column: 5),
                        recordedAt: try found.decode(row: row, column: 6), actor: try found.decodeIfPresent(row: row, column: 7),
                        status: status, data: data, amendable: status != "withdrawn" && (RecordType.all[type]?.isAmendable ?? false)))
            }
            return records
        }
    }
}
