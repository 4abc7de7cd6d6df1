extension Projection {
    /// Interventions at locations of concern and closures, behind `locations_of_concern`.
    /// SQL: `SQL/locations.sql`.
    public static let locations = Projection(
        name: "locations", eventTypes: ["intervention_started", "intervention_ended", "location_concern_closed"],
        tables: ["interventions", "intervention_ends", "closures"])
}
