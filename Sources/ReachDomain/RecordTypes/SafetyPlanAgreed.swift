extension RecordType {
    public static let safetyPlanAgreed = RecordType(
        "safety_plan_agreed",
        example:
            #"{"plan_id":"northvale-plan-1","referral_id":"northvale-ref-1","la_id":"northvale","date":"2025-04-01","actions":[{"action_id":"a1","description":"Staff presence at the bus stop after school","owner_role":"deputy head","due_on":"2025-05-01"}]}"#
    ) { reader, _ in
        let plan = reader.identifier("plan_id")
        let about = aboutReferral(&reader)
        var actionIDs: [String] = []
        if let actions = reader.objects("actions", required: true) {
            if actions.isEmpty { reader.refuse("actions", "a safety plan needs at least one action") }
            for var action in actions {
                if let id = action.identifier("action_id") {
                    if actionIDs.contains(id) { action.refuse("action_id", "'\(id)' is used twice in this plan") }
                    actionIDs.append(id)
                }
                _ = action.text("description")
                _ = action.text("owner_role", maxLength: 100)
                if let due = action.date("due_on", allowFuture: true), let planDate = about?.date, due < planDate {
                    action.refuse("due_on", "\(due) is before the plan was agreed on \(planDate); actions are due on or after the plan's date")
                }
                reader.finish(action)
            }
        }
        guard let plan, let about, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.plan.stream(plan), authorityID: about.authority, occurredOn: about.date,
            references: [Reference(.referral, about.referral, field: "referral_id", authority: about.authority)],
            rule: .register(what: "safety plan \(plan)", field: "plan_id"))
    }

    /// An update to one action of a safety plan.
    static func planActionRecord(_ name: String, example: String, _ extra: @escaping @Sendable (inout FieldReader) -> Void) -> RecordType {
        RecordType(name, example: example) { reader, _ in
            let plan = reader.identifier("plan_id")
            let action = reader.identifier("action_id")
            let authority = reader.identifier("la_id")
            let date = reader.date("date")
            extra(&reader)
            guard let plan, let action, let authority, reader.refusals.isEmpty else { return nil }
            return CheckedRecord(
                streamID: Entity.plan.stream(plan), authorityID: authority, occurredOn: date,
                references: [Reference(.plan, plan, field: "plan_id", authority: authority)], rule: .none,
                planAction: .init(planID: plan, actionID: action))
        }
    }
}
