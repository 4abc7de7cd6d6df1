extension RecordType {
    public static let contextReviewed = RecordType(
        "context_reviewed",
        example:
            #"{"referral_id":"northvale-ref-1","la_id":"northvale","date":"2025-07-01","outcome":"de_escalated","new_level":"universal_early_help"}"#
    ) { reader, _ in
        let about = aboutReferral(&reader)
        let outcome = reader.word("outcome", ReviewOutcome.self)
        let level = reader.word("new_level", ThresholdLevel.self, required: false)
        if let outcome, outcome != .closed, level == nil, !reader.refusals.contains(where: { $0.field == "new_level" }) {
            reader.refuse("new_level", "is required when a context is \(outcome.rawValue.replacingOccurrences(of: "_", with: "-"))")
        }
        guard let about, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.referral.stream(about.referral), authorityID: about.authority, occurredOn: about.date,
            references: [Reference(.referral, about.referral, field: "referral_id", authority: about.authority)], rule: .none)
    }
}
