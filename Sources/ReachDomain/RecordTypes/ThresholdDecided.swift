extension RecordType {
    public static let thresholdDecided = RecordType(
        "threshold_decided",
        example: #"{"referral_id":"northvale-ref-1","la_id":"northvale","level":"child_in_need","pathway":"school_assessment","date":"2025-02-03"}"#
    ) { reader, _ in
        let referral = reader.identifier("referral_id")
        let authority = reader.identifier("la_id")
        let level = reader.word("level", ThresholdLevel.self)
        let pathway = reader.word("pathway", Pathway.self)
        if let level, let pathway, !level.pathways.contains(pathway) {
            let choices = level.pathways.map(\.rawValue)
            reader.refuse(
                "pathway",
                "\(pathway.rawValue) is not available at level \(level.rawValue); choose \(choices.count == 1 ? choices[0] : choices.joined(separator: " or "))"
            )
        }
        let date = reader.date("date")
        guard let referral, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.referral.stream(referral), authorityID: authority, occurredOn: date,
            references: [Reference(.referral, referral, field: "referral_id", authority: authority)], rule: .none)
    }
}
