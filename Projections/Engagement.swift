extension Projection {
    /// Schools' engagement stages per pilot, behind `pilot_progress`. SQL: `SQL/engagement.sql`.
    public static let engagement = Projection(
        name: "engagement", eventTypes: ["engagement_stage_reached"], tables: ["stages"])
}
