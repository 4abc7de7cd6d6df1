extension RecordType {
    public static let actionRescheduled = planActionRecord(
        "action_rescheduled",
        example:
            #"{"plan_id":"northvale-plan-1","action_id":"a1","la_id":"northvale","date":"2025-04-20","new_due_on":"2025-06-01","reason":"staff absence"}"#
    ) { reader in
        _ = reader.date("new_due_on", allowFuture: true)
        _ = reader.text("reason", required: false)
    }
}
