extension Projection {
    /// Activities delivered and their attendance, behind `sessions`, `attendances`,
    /// `staff_trained`, `learner_hours`, `schools_engaged`, `authorities_active` and
    /// `partners_involved`. SQL: `SQL/activities.sql`.
    public static let activities = Projection(
        name: "activities", eventTypes: ["activity_delivered"], tables: ["activities", "attendance"])
}
