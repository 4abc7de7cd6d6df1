extension RecordType {
    public static let actionCompleted = planActionRecord(
        "action_completed",
        example: #"{"plan_id":"northvale-plan-1","action_id":"a1","la_id":"northvale","date":"2025-04-28"}"#
    ) { _ in }
}
