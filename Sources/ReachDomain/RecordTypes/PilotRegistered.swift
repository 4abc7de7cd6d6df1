extension RecordType {
    public static let pilotRegistered = RecordType(
        "pilot_registered",
        example:
            #"{"pilot_id":"northvale-pilot","la_id":"northvale","name":"CS and restorative practice in schools","approach":"CS-restorative practice","strategy_project":"local","objectives":[1,3],"policy_goals":[2,5],"target_schools":11,"start_date":"2024-09-01"}"#
    ) { reader, _ in
        let id = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        _ = reader.text("name")
        _ = reader.text("approach")
        _ = reader.word("strategy_project", StrategyProject.self)
        _ = reader.numbers("objectives", in: 1...4)
        _ = reader.numbers("policy_goals", in: 1...7)
        _ = reader.count("target_schools", minimum: 1, maximum: 10_000)
        let start = reader.date("start_date")
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.pilot.stream(id), authorityID: authority, occurredOn: start,
            references: [Reference(.authority, authority, field: "la_id")],
            rule: .register(what: "pilot \(id)", field: "pilot_id"))
    }
}
