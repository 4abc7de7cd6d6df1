extension RecordType {
    /// Withdraws an earlier record: figures are then as if it had never been recorded.
    public static let eventWithdrawn = RecordType(
        "event_withdrawn",
        example: #"{"record_id":"assembly-2024-10-03","reason":"recorded twice"}"#,
        amendable: false
    ) { reader, _ in
        let target = reader.text("record_id", maxLength: 100)
        _ = reader.text("reason")
        guard let target, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: "", authorityID: nil, occurredOn: nil, references: [],
            rule: .amends(recordID: target, withdraws: true, correctedData: nil))
    }
}
