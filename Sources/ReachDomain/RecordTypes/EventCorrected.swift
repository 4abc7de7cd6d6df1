extension RecordType {
    /// Corrects an earlier record: `data` replaces its data whole and must pass its checks.
    public static let eventCorrected = RecordType(
        "event_corrected",
        example:
            #"{"record_id":"assembly-2024-10-03","reason":"the head count was 150","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":150}}}}"#,
        csv: .unavailable,
        amendable: false
    ) { reader, _ in
        let target = reader.text("record_id", maxLength: 100)
        _ = reader.text("reason")
        let data = reader.rawObject("data")
        guard let target, let data, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: "", authorityID: nil, occurredOn: nil, references: [],
            rule: .amends(recordID: target, withdraws: false, correctedData: data))
    }
}
