extension RecordType {
    public static let partnerRegistered = RecordType(
        "partner_registered",
        example: #"{"partner_id":"partner-1","name":"Northvale youth work","kind":"youth_work"}"#
    ) { reader, _ in
        let id = reader.identifier("partner_id")
        _ = reader.text("name")
        _ = reader.word("kind", PartnerKind.self)
        guard let id, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.partner.stream(id), authorityID: nil, occurredOn: nil, references: [],
            rule: .register(what: "partner \(id)", field: "partner_id"))
    }
}
