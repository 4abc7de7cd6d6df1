extension RecordType {
    public static let engagementStageReached = RecordType(
        "engagement_stage_reached",
        example:
            #"{"pilot_id":"northvale-pilot","school_id":"900001","la_id":"northvale","stage":"scoping","date":"2024-09-20","reason":"first meeting with the head"}"#
    ) { reader, _ in
        let pilot = reader.identifier("pilot_id")
        let school = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        let stage = reader.word("stage", EngagementStage.self)
        let date = reader.date("date")
        let reason = reader.text("reason", required: false)
        if stage == .withdrawn && reason == nil && !reader.refusals.contains(where: { $0.field.hasSuffix("reason") }) {
            reader.refuse("reason", "is required when a school withdraws (for example budget or leadership turnover)")
        }
        guard let pilot, let school, let authority, let stage, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Streams.engagement(pilot: pilot, school: school), authorityID: authority, occurredOn: date,
            references: [
                Reference(.pilot, pilot, field: "pilot_id", authority: authority),
                Reference(.school, school, field: "school_id", authority: authority),
            ],
            rule: .engagementStage(stage))
    }
}
