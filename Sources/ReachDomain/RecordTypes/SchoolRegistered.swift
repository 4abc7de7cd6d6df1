extension RecordType {
    public static let schoolRegistered = RecordType(
        "school_registered",
        example: #"{"school_id":"900001","la_id":"northvale","name":"Example Academy","phase":"secondary","pupils_on_roll":1010}"#
    ) { reader, _ in
        let id = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        _ = reader.text("name")
        _ = reader.word("phase", SchoolPhase.self)
        _ = reader.count("pupils_on_roll", required: false, maximum: 10_000)
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.school.stream(id), authorityID: authority, occurredOn: nil,
            references: [Reference(.authority, authority, field: "la_id")],
            rule: .register(what: "school \(id)", field: "school_id"))
    }
}
