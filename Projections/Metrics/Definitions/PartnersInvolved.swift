import ReachDomain

extension MetricDefinition {
    public static let partnersInvolved = MetricDefinition(
        .partnersInvolved,
        definition: "Distinct partner organisations that delivered or attended an activity, by kind.",
        headline: ("partners", .count)
    ) { by, wholeMonths in
        // Distinct partner organisations that delivered activities or interventions in the period.
        let fact =
            (wholeMonths
                ? "SELECT m.la_id, m.pilot_id, m.month AS date, m.partner_id FROM research.activity_partner_months m WHERE m.month BETWEEN $1 AND $2"
                : """
                SELECT a.la_id, a.pilot_id, a.date, x.partner_id FROM research.activities a, unnest(a.partners) AS x(partner_id)
                WHERE a.date BETWEEN $1 AND $2
                """) + """

                UNION ALL
                SELECT i.la_id, NULL, i.started_on, x.partner_id FROM research.interventions i, unnest(i.partners) AS x(partner_id)
                WHERE i.started_on BETWEEN $1 AND $2
                """
        return """
            WITH s AS (\(MetricSQL.scoped(fact, pilot: true, by: by)))
            SELECT scope, 'total', 'total', 'partners', count(DISTINCT partner_id)::float8, 'count' FROM s GROUP BY scope
            UNION ALL
            SELECT s.scope, 'kind', pa.kind, 'partners', count(DISTINCT s.partner_id)::float8, 'count'
            FROM s JOIN research.partners pa ON pa.partner_id = s.partner_id GROUP BY s.scope, pa.kind
            """
    }
}
