/// The metrics of the programme (see the domain specification, "Metrics").
public enum Metric: String, Sendable, CaseIterable, Codable {
    case authoritiesActive = "authorities_active"
    case schoolsEngaged = "schools_engaged"
    case sessions
    case attendances
    case staffTrained = "staff_trained"
    case learnerHours = "learner_hours"
    case partnersInvolved = "partners_involved"
    case pilotProgress = "pilot_progress"
    case surveyChange = "survey_change"
    case contextPathways = "context_pathways"
    case locationsOfConcern = "locations_of_concern"
    case strategyProgress = "strategy_progress"

    /// The metric's definition: what it counts and how (one file each, in `Definitions/`).
    public var about: MetricDefinition {
        switch self {
        case .authoritiesActive: .authoritiesActive
        case .schoolsEngaged: .schoolsEngaged
        case .sessions: .sessions
        case .attendances: .attendances
        case .staffTrained: .staffTrained
        case .learnerHours: .learnerHours
        case .partnersInvolved: .partnersInvolved
        case .pilotProgress: .pilotProgress
        case .surveyChange: .surveyChange
        case .contextPathways: .contextPathways
        case .locationsOfConcern: .locationsOfConcern
        case .strategyProgress: .strategyProgress
        }
    }

    /// What the metric counts, as the domain specification defines it.
    public var definition: String { about.definition }
}

/// What a `--by` cuts figures by: one row per scope.
public enum ScopeDimension: String, Sendable, CaseIterable {
    case la, region, pilot, project, objective
    case policyGoal = "policy_goal"
    case academicYear = "academic_year"
    case financialYear = "financial_year"
    case quarter, month

    /// Cuts by time split the period into sub-periods instead of grouping in SQL.
    var isTime: Bool { [.academicYear, .financialYear, .quarter, .month].contains(self) }
    /// Cuts that need the facts to belong to pilots.
    var needsPilot: Bool { [.pilot, .project, .objective, .policyGoal].contains(self) }
}

/// Which authorities, pilots and strategy elements a query is about, and for when.
public struct MetricQuery: Sendable {
    public var period: Period
    public var la: String?
    public var region: String?
    public var pilot: String?
    public var project: String?
    public var objective: Int?
    public var policyGoal: Int?
    public var by: ScopeDimension?
    public var metrics: [Metric]

    public init(
        period: Period, la: String? = nil, region: String? = nil, pilot: String? = nil, project: String? = nil,
        objective: Int? = nil, policyGoal: Int? = nil, by: ScopeDimension? = nil, metrics: [Metric] = Metric.allCases
    ) {
        self.period = period
        self.la = la
        self.region = region
        self.pilot = pilot
        self.project = project
        self.objective = objective
        self.policyGoal = policyGoal
        self.by = by
        self.metrics = metrics
    }

    var filtersByPilot: Bool { pilot != nil || project != nil || objective != nil || policyGoal != nil }
}

/// How disclosure control treats a figure.
public enum Sensitivity: String, Sendable, Codable {
    /// A count of young people (or of things about them): suppressed when small.
    case children
    /// A count that is not about children (sessions, schools, staff, partners): never suppressed.
    case count
    /// A share of survey respondents: suppressed when its base or its schools are too few.
    case share
    /// A figure derived from a count of young people (its `base`), such as learner hours of
    /// pupils: suppressed whenever that count would be, and with the cells of its breakdown,
    /// since with the duration known it gives the count back.
    case derived
    /// Anything else (hours, medians, percentages of actions): shown as it is, rounded.
    case other
}

/// One figure: tidy, one observation per row.
public struct Observation: Sendable, Equatable {
    public var metric: String
    public var period: String
    /// Which slice of the programme: `all`, or `la:lewisham`, `region:london`, `pilot:...`,
    /// `project:...`, `objective:2`, `policy_goal:5`, `academic_year:2024/25`...
    public var scope: String
    /// What the metric is broken down by (`total` for the headline figure).
    public var dimension: String
    public var category: String
    /// What is measured (`sessions`, `attendances`, `baseline_share`...).
    public var statistic: String
    /// The figure, unless a symbol stands in for it.
    public var value: Double?
    /// A GSS symbol standing in for the value: `c` confidential, `z` not applicable,
    /// `:` not available, `x` unavailable for another reason; or the NHS policy's `*`.
    public var symbol: String?
    public var sensitivity: Sensitivity
    /// For survey shares: the number answering, and the schools it comes from.
    public var base: Int?
    public var schools: Int?

    public init(
        metric: String, period: String, scope: String, dimension: String, category: String, statistic: String,
        value: Double?, symbol: String? = nil, sensitivity: Sensitivity, base: Int? = nil, schools: Int? = nil
    ) {
        self.metric = metric
        self.period = period
        self.scope = scope
        self.dimension = dimension
        self.category = category
        self.statistic = statistic
        self.value = value
        self.symbol = symbol
        self.sensitivity = sensitivity
        self.base = base
        self.schools = schools
    }

    /// The value as published: the symbol, or the number without a needless ".0".
    public var shownValue: String {
        if let symbol { return symbol }
        guard let value else { return ":" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value).contains("e") ? String(value) : Self.trimmed(value)
    }

    static func trimmed(_ value: Double) -> String {
        var text = String(format: "%.4f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
