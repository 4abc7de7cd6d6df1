extension RecordType {
    public static let locationRegistered = RecordType(
        "location_registered",
        example:
            #"{"location_id":"northvale-park-1","la_id":"northvale","kind":"park","label":"Park next to the school","area":"SE13","concern_types":["violence","substance_misuse"],"identified_on":"2024-11-05"}"#
    ) { reader, _ in
        let id = reader.identifier("location_id")
        let authority = reader.identifier("la_id")
        _ = reader.word("kind", LocationKind.self)
        _ = reader.text("label")
        if let area = reader.text("area", maxLength: 100),
            area.uppercased().wholeMatch(of: /[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}/) != nil
        {
            reader.refuse("area", "'\(area)' is a full postcode; give the postcode district (such as SE13) or the ward, never anything finer")
        }
        _ = reader.words("concern_types", ConcernType.self)
        let identified = reader.date("identified_on")
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.location.stream(id), authorityID: authority, occurredOn: identified,
            references: [Reference(.authority, authority, field: "la_id")],
            rule: .register(what: "location of concern \(id)", field: "location_id"))
    }
}
