extension RecordType {
    public static let actionCancelled = planActionRecord(
        "action_cancelled",
        example: #"{"plan_id":"northvale-plan-1","action_id":"a1","la_id":"northvale","date":"2025-04-20","reason":"no longer needed"}"#
    ) { reader in
        _ = reader.text("reason")
    }
}
