extension RecordType {
    /// A pilot's target changed, such as a roll-out to "a further 20 schools" (the new total).
    public static let pilotTargetChanged = RecordType(
        "pilot_target_changed",
        example:
            #"{"pilot_id":"northvale-pilot","la_id":"northvale","target_schools":31,"date":"2025-09-01","reason":"roll-out to a further 20 schools"}"#
    ) { reader, _ in
        let pilot = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        _ = reader.count("target_schools", minimum: 1, maximum: 10_000)
        let date = reader.date("date")
        _ = reader.text("reason", required: false)
        guard let pilot, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.pilot.stream(pilot), authorityID: authority, occurredOn: date,
            references: [Reference(.pilot, pilot, field: "pilot_id", authority: authority)], rule: .none)
    }
}
