import ReachDomain

extension MetricDefinition {
    public static let locationsOfConcern = MetricDefinition(
        .locationsOfConcern,
        definition: "Locations open and closed, days open, and interventions by kind.",
        headline: ("open", .count), belongsToPilots: false
    ) { by, _ in
        // Locations open on the period's last day, closed in the period (and the median days
        // they were open), and interventions started in the period by kind.
        let locations = """
            SELECT lo.la_id, lo.location_id, lo.identified_on, c.closed_on
            FROM research.locations lo
            LEFT JOIN LATERAL (SELECT min(x.closed_on) AS closed_on FROM research.location_closures x WHERE x.location_id = lo.location_id) c ON true
            WHERE lo.identified_on <= $2
            """
        let interventions = "SELECT i.la_id, i.kind FROM research.interventions i WHERE i.started_on BETWEEN $1 AND $2"
        return """
            WITH s AS (\(MetricSQL.scoped(locations, pilot: false, by: by))),
                 i AS (\(MetricSQL.scoped(interventions, pilot: false, by: by)))
            SELECT scope, 'total', 'total', 'open', count(*) FILTER (WHERE closed_on IS NULL OR closed_on > $2)::float8, 'count' FROM s GROUP BY scope
            UNION ALL SELECT scope, 'total', 'total', 'closed', count(*) FILTER (WHERE closed_on BETWEEN $1 AND $2)::float8, 'count' FROM s GROUP BY scope
            UNION ALL SELECT scope, 'total', 'total', 'median_days_open',
                             percentile_cont(0.5) WITHIN GROUP (ORDER BY closed_on - identified_on) FILTER (WHERE closed_on BETWEEN $1 AND $2)::float8, 'other'
                      FROM s GROUP BY scope
            UNION ALL SELECT scope, 'interventions', kind, 'interventions', count(*)::float8, 'count' FROM i GROUP BY scope, kind
            """
    }
}
