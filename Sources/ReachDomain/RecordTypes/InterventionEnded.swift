extension RecordType {
    public static let interventionEnded = RecordType(
        "intervention_ended",
        example: #"{"intervention_id":"northvale-park-1-int-1","la_id":"northvale","date":"2025-03-01"}"#
    ) { reader, _ in
        let id = reader.identifier("intervention_id")
        let authority = reader.identifier("la_id")
        let date = reader.date("date")
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.intervention.stream(id), authorityID: authority, occurredOn: date,
            references: [Reference(.intervention, id, field: "intervention_id", authority: authority)], rule: .none)
    }
}
