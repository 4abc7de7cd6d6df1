extension Projection {
    /// Authorities, schools, partners, pilots and their targets, locations of concern and peer
    /// groups: the dimensions every figure is cut by. SQL: `SQL/reference.sql`.
    public static let reference = Projection(
        name: "reference",
        eventTypes: [
            "local_authority_registered", "school_registered", "partner_registered", "pilot_registered",
            "pilot_target_changed", "location_registered", "peer_group_registered",
        ],
        tables: ["authorities", "schools", "partners", "pilots", "pilot_targets", "locations", "peer_groups"])
}
