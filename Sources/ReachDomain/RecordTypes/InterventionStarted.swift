extension RecordType {
    public static let interventionStarted = RecordType(
        "intervention_started",
        example:
            #"{"intervention_id":"northvale-park-1-int-1","location_id":"northvale-park-1","la_id":"northvale","kind":"youth_outreach","date":"2024-12-01","partners":["partner-1"]}"#
    ) { reader, _ in
        let id = reader.identifier("intervention_id")
        let location = reader.identifier("location_id")
        let authority = reader.identifier("la_id")
        _ = reader.word("kind", InterventionKind.self)
        let date = reader.date("date")
        _ = reader.identifiers("partners")
        guard let id, let location, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.intervention.stream(id), authorityID: authority, occurredOn: date,
            references: [Reference(.location, location, field: "location_id", authority: authority)],
            rule: .register(what: "intervention \(id)", field: "intervention_id"))
    }
}
