extension RecordType {
    public static let outcomeShared = RecordType(
        "outcome_shared",
        example: #"{"referral_id":"northvale-ref-1","la_id":"northvale","date":"2025-06-10","shared_with":["young_people","parents_carers"]}"#
    ) { reader, _ in
        let about = aboutReferral(&reader)
        _ = reader.words("shared_with", SharedWith.self)
        guard let about, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.referral.stream(about.referral), authorityID: about.authority, occurredOn: about.date,
            references: [Reference(.referral, about.referral, field: "referral_id", authority: about.authority)], rule: .none)
    }
}
