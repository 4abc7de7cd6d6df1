import ReachPostgres

/// One of the programme's metrics (see the domain specification, "Metrics"): what it counts,
/// the statistic it reports as 0 when nothing happened, whose facts it counts, and how its
/// figures are computed. Each metric is a file of its own in `Definitions/`, as each record type
/// is in the domain, and ``Metric/about`` names them all.
public struct MetricDefinition: Sendable {
    /// How a metric's figures are computed.
    enum Figures: Sendable {
        /// One statement on the research views for a cut (`by`) and a period of whole months or
        /// not, returning (scope, dimension, category, statistic, value, sensitivity) and, where
        /// a figure is derived from a count of young people, that count as a seventh column.
        /// Its parameters are those of ``MetricSQL``.
        case statement(@Sendable (_ by: ScopeDimension?, _ wholeMonths: Bool) -> String)
        /// Figures made by functions of their own: independent parts, each run on one
        /// connection, that may run side by side.
        case parts(@Sendable (MetricsCalculator, MetricQuery) -> [MetricsCalculator.Job])
    }

    public let metric: Metric
    /// What the metric counts, as the domain specification defines it.
    public let definition: String
    /// The headline statistic reported as 0 when nothing happened (none for metrics whose
    /// figures are shares or medians).
    let headline: (statistic: String, sensitivity: Sensitivity)?
    /// Whether the metric's facts belong to pilots (and so to strategy projects, objectives and
    /// policy goals). Context referrals and locations belong to an authority only.
    let belongsToPilots: Bool
    let figures: Figures

    /// A metric computed by one statement.
    init(
        _ metric: Metric, definition: String, headline: (statistic: String, sensitivity: Sensitivity)?, belongsToPilots: Bool = true,
        statement: @escaping @Sendable (_ by: ScopeDimension?, _ wholeMonths: Bool) -> String
    ) {
        self.metric = metric
        self.definition = definition
        self.headline = headline
        self.belongsToPilots = belongsToPilots
        self.figures = .statement(statement)
    }

    /// A metric computed in parts by functions of its own.
    init(_ metric: Metric, definition: String, parts: @escaping @Sendable (MetricsCalculator, MetricQuery) -> [MetricsCalculator.Job]) {
        self.metric = metric
        self.definition = definition
        self.headline = nil
        self.belongsToPilots = true
        self.figures = .parts(parts)
    }
}
