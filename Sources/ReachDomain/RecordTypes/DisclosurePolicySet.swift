extension RecordType {
    /// The programme set the disclosure policy an authority's figures leave under (`dfe` or
    /// `nhs`): the only one its lead, its exports and anyone asking for its figures under a
    /// policy get, so that no two policies' figures of the same cells can be combined. Only
    /// Reach writes it (`reach authority policy`, or the API), never recorded; a change is
    /// refused once figures have left under another policy.
    public static let disclosurePolicySet = RecordType(
        "disclosure_policy_set",
        example: #"{"la_id":"northvale","policy":"dfe","date":"2024-09-01","reason":"as the council reports to the Department for Education"}"#,
        amendable: false,
        system: true
    ) { reader, _ in
        let authority = reader.identifier("la_id")
        if let policy = reader.text("policy", maxLength: 10), !["dfe", "nhs"].contains(policy) {
            reader.refuse("policy", "'\(policy)' is not a disclosure policy for an authority's figures; choose dfe or nhs")
        }
        let date = reader.date("date")
        _ = reader.text("reason", required: false)
        guard let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: "disclosure:\(authority)", authorityID: authority, occurredOn: date,
            references: [Reference(.authority, authority, field: "la_id")], rule: .none)
    }
}
