extension RecordType {
    public static let locationConcernClosed = RecordType(
        "location_concern_closed",
        example: #"{"location_id":"northvale-park-1","la_id":"northvale","date":"2025-06-01","reason":"no reports since March"}"#
    ) { reader, _ in
        let location = reader.identifier("location_id")
        let authority = reader.identifier("la_id")
        let date = reader.date("date")
        _ = reader.text("reason", required: false)
        guard let location, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.location.stream(location), authorityID: authority, occurredOn: date,
            references: [Reference(.location, location, field: "location_id", authority: authority)], rule: .none)
    }
}
