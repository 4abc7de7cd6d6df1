extension Projection {
    /// Context referrals, threshold decisions, assessments, safety plans and their actions,
    /// outcomes and reviews, behind `context_pathways`. SQL: `SQL/contexts.sql`.
    public static let contexts = Projection(
        name: "contexts",
        eventTypes: [
            "context_referral_received", "threshold_decided", "school_assessment_completed",
            "beyond_referrals_self_assessment_completed", "safety_plan_agreed", "action_completed",
            "action_rescheduled", "action_cancelled", "outcome_shared", "context_reviewed",
        ],
        tables: ["referrals", "decisions", "assessments", "plans", "plan_actions", "action_updates", "outcomes", "reviews"])
}
