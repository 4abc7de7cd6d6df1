extension Projection {
    /// Survey waves and their measures, behind `survey_change`. SQL: `SQL/surveys.sql`.
    public static let surveys = Projection(
        name: "surveys", eventTypes: ["survey_wave_recorded"], tables: ["waves", "measures"])
}
