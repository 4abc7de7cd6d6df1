import ReachDomain
import ReachPostgres

extension MetricDefinition {
    public static let surveyChange = MetricDefinition(
        .surveyChange,
        definition:
            "Per measure and respondent group: the pooled share agreeing at baseline and at the latest follow-up, the difference in percentage points with a 95% interval (Newcombe's method for a difference of two proportions), and both sample sizes.",
        parts: { calculator, query in [{ connection in try surveyChange(calculator, query, on: connection) }] }
    )

    /// Per respondent group and measure: the pooled share agreeing at baseline and at the
    /// latest follow-up, the difference in percentage points with Newcombe's 95% interval, and
    /// both sample sizes. A survey unit is a pilot's school (or the pilot, for surveys not at
    /// one school) and a respondent group; it counts when its latest follow-up wave is dated in
    /// the period and it has a baseline wave before it, so both shares come from the same units.
    static func surveyChange(_ calculator: MetricsCalculator, _ query: MetricQuery, on connection: Connection) throws -> [Observation] {
        let pairs = """
            SELECT fu.la_id, fu.pilot_id, fu.school_id, fu.respondent_group, fm.measure,
                   bm.agreeing AS base_agreeing, bm.answering AS base_answering, fm.agreeing AS follow_agreeing, fm.answering AS follow_answering
            FROM (SELECT DISTINCT ON (w.pilot_id, coalesce(w.school_id, ''), w.respondent_group) w.*
                  FROM research.survey_waves w WHERE w.wave_number > 0 AND w.date BETWEEN $1 AND $2
                  ORDER BY w.pilot_id, coalesce(w.school_id, ''), w.respondent_group, w.wave_number DESC, w.date DESC) fu
            JOIN LATERAL (SELECT b.wave_event_id FROM research.survey_waves b
                          WHERE b.pilot_id = fu.pilot_id AND coalesce(b.school_id, '') = coalesce(fu.school_id, '')
                            AND b.respondent_group = fu.respondent_group AND b.wave_number = 0 AND b.date <= fu.date
                          ORDER BY b.date DESC LIMIT 1) bl ON true
            JOIN research.survey_measures fm ON fm.wave_event_id = fu.wave_event_id
            JOIN research.survey_measures bm ON bm.wave_event_id = bl.wave_event_id AND bm.measure = fm.measure
            """
        let sql = """
            WITH s AS (\(MetricSQL.scoped(pairs, pilot: true, by: query.by)))
            SELECT scope, respondent_group || '/' || measure, sum(base_agreeing)::int8, sum(base_answering)::int8,
                   sum(follow_agreeing)::int8, sum(follow_answering)::int8, count(DISTINCT school_id)::int8
            FROM s GROUP BY scope, respondent_group, measure ORDER BY 1, 2
            """
        let label = query.period.label
        var out: [Observation] = []
        for row in try calculator.run(sql, calculator.parameters(query), on: connection).mapRows({ row in
            (
                try row.decode(0, as: String.self), try row.decode(1, as: String.self), try row.decode(2, as: Int.self),
                try row.decode(3, as: Int.self), try row.decode(4, as: Int.self), try row.decode(5, as: Int.self), try row.decode(6, as: Int.self)
            )
        }) {
            let (scope, category, x0, n0, x1, n1, schools) = row
            func add(_ statistic: String, _ value: Double?, _ sensitivity: Sensitivity, base: Int?) {
                out.append(
                    Observation(
                        metric: Metric.surveyChange.rawValue, period: label, scope: scope, dimension: "measure",
                        category: category, statistic: statistic, value: value, sensitivity: sensitivity,
                        base: base, schools: schools))
            }
            let baseline = n0 > 0 ? Double(x0) / Double(n0) : nil
            let followUp = n1 > 0 ? Double(x1) / Double(n1) : nil
            let interval = Newcombe.difference(x1: x1, n1: n1, x2: x0, n2: n0)
            func percent(_ p: Double?) -> Double? { p.map { ($0 * 1000).rounded() / 10 } }
            add("baseline_percent", percent(baseline), .share, base: n0)
            add("follow_up_percent", percent(followUp), .share, base: n1)
            add("difference_pp", percent(interval?.difference), .share, base: min(n0, n1))
            add("difference_low_pp", percent(interval?.lower), .share, base: min(n0, n1))
            add("difference_high_pp", percent(interval?.upper), .share, base: min(n0, n1))
            // How many pupils answered is a count of young people.
            let answering: Sensitivity = category.hasPrefix("\(RespondentGroup.pupils.rawValue)/") ? .children : .count
            add("baseline_answering", Double(n0), answering, base: nil)
            add("follow_up_answering", Double(n1), answering, base: nil)
            add("schools", Double(schools), .count, base: nil)
        }
        return out
    }
}
