import Foundation
import ReachDomain
import ReachIngest
import ReachPostgres
import ReachTestSupport
import Testing

@testable import ReachProjections

@Suite("metrics of the worked scenario, against hand-computed values")
struct ScenarioMetricsTests {
    /// Records the scenario, brings the projections up to date and computes the query.
    static func figures(_ query: MetricQuery, db: TestDatabase) throws -> [Observation] {
        let owner = try db.ownerConnection()
        let behind = try ProjectionEngine().waitUntilCaughtUp(on: owner)
        #expect(behind.isEmpty)
        return try MetricsCalculator().compute(query, on: try db.applicationConnection())
    }

    static func value(
        _ rows: [Observation], _ metric: Metric, _ statistic: String, dimension: String = "total", category: String = "total", scope: String = "all"
    ) -> Double? {
        rows.first {
            $0.metric == metric.rawValue && $0.statistic == statistic && $0.dimension == dimension && $0.category == category && $0.scope == scope
        }?.value
    }

    @Test("every metric for Northvale in 2024/25 matches the hand-computed value")
    func academicYear() throws {
        let db = try TestDatabase.create()
        try Scenario.record(on: try db.applicationConnection())
        let rows = try Self.figures(MetricQuery(period: try Period.parse("2024/25").get(), la: "northvale"), db: db)
        func v(_ metric: Metric, _ statistic: String, _ dimension: String = "total", _ category: String = "total") -> Double? {
            Self.value(rows, metric, statistic, dimension: dimension, category: category)
        }
        #expect(v(.authoritiesActive, "authorities") == 1)
        // a1-a4 at three schools; a5 online; a6 withdrawn.
        #expect(v(.schoolsEngaged, "schools") == 3)
        #expect(v(.sessions, "sessions") == 5)
        #expect(v(.sessions, "sessions", "kind", "staff_training") == 2)
        #expect(v(.sessions, "sessions", "kind", "pupil_workshop") == nil)
        #expect(v(.sessions, "sessions", "phase", "support") == 4)
        #expect(v(.sessions, "sessions", "phase", "multi_agency") == 1)
        // a1 corrected to 150 pupils: 158 + 18 + 5 + 37 + 10.
        #expect(v(.attendances, "attendances") == 228)
        #expect(v(.attendances, "attendances", "audience", "pupils") == 184)
        #expect(v(.attendances, "attendances", "audience", "staff") == 37)
        #expect(v(.attendances, "attendances", "audience", "parents_carers") == 5)
        #expect(v(.attendances, "attendances", "audience", "professionals") == 2)
        #expect(v(.attendances, "attendances", "pupils", "ks3") == 154)
        #expect(v(.attendances, "attendances", "professionals", "police") == 2)
        #expect(v(.staffTrained, "staff_attendances") == 28)
        #expect(v(.staffTrained, "staff_attendances", "role", "teaching") == 19)
        #expect(v(.staffTrained, "staff_attendances", "role", "leadership") == 3)
        // 45x158 + 90x18 + 60x5 + 120x37 + 60x10 = 14,070 minutes.
        #expect(v(.learnerHours, "hours") == 234.5)
        #expect(v(.learnerHours, "hours", "audience", "pupils") == 176.5)
        // Figures derived from pupils, and pupils answering a survey, are young-people figures.
        let pupilHours = rows.first { $0.metric == "learner_hours" && $0.category == "pupils" }
        #expect(pupilHours?.sensitivity == .derived && pupilHours?.base == 184, "\(String(describing: pupilHours))")
        #expect(rows.filter { $0.metric == "survey_change" && $0.statistic.hasSuffix("_answering") }.allSatisfy { $0.sensitivity == .children })
        #expect(rows.contains { $0.metric == "survey_change" && $0.statistic == "baseline_answering" })
        #expect(v(.partnersInvolved, "partners") == 2)
        // 10 schools implementing and 1 embedding on 31 August 2025, against the target of 11.
        #expect(v(.pilotProgress, "implementing_or_beyond") == 11)
        #expect(v(.pilotProgress, "target_schools") == 11)
        #expect(v(.pilotProgress, "percent_of_target") == 100)
        #expect(v(.pilotProgress, "schools", "stage", "implementing") == 10)
        #expect(v(.pilotProgress, "schools", "stage", "embedding") == 1)
        // 48/80 at baseline, 56/70 at follow-up: Newcombe's worked example.
        let measure = "pupils/feel_safe_in_school"
        #expect(v(.surveyChange, "baseline_percent", "measure", measure) == 60)
        #expect(v(.surveyChange, "follow_up_percent", "measure", measure) == 80)
        #expect(v(.surveyChange, "difference_pp", "measure", measure) == 20)
        #expect(v(.surveyChange, "difference_low_pp", "measure", measure) == 5.2)
        #expect(v(.surveyChange, "difference_high_pp", "measure", measure) == 33.4)
        #expect(v(.surveyChange, "baseline_answering", "measure", measure) == 80)
        #expect(v(.surveyChange, "follow_up_answering", "measure", measure) == 70)
        #expect(v(.contextPathways, "referrals") == 1)
        #expect(v(.contextPathways, "referrals", "level_pathway", "child_in_need/school_assessment") == 1)
        #expect(v(.contextPathways, "median_days_to_decision") == 21)
        // a1 done before its due date, a2 late, a3 done before its rescheduled date.
        #expect(v(.contextPathways, "actions_due") == 3)
        #expect(v(.contextPathways, "actions_completed_by_due_date") == 2)
        #expect(v(.contextPathways, "percent_actions_on_time") == 66.7)
        #expect(v(.contextPathways, "contexts_de_escalated") == 1)
        #expect(v(.contextPathways, "outcomes_shared_with_young_people") == 1)
        #expect(v(.locationsOfConcern, "open") == 0)
        #expect(v(.locationsOfConcern, "closed") == 1)
        #expect(v(.locationsOfConcern, "median_days_open") == 208)
        #expect(v(.locationsOfConcern, "interventions", "interventions", "cctv") == 1)
        #expect(v(.locationsOfConcern, "interventions", "interventions", "youth_outreach") == 1)
        let strategy = rows.filter { $0.metric == "strategy_progress" && $0.scope == "objective:3" && $0.dimension == "sessions" }
        #expect(strategy.map(\.value) == [5])
        func strategic(_ scope: String, _ metric: Metric, _ statistic: String) -> Double? {
            rows.first { $0.metric == "strategy_progress" && $0.scope == scope && $0.dimension == metric.rawValue && $0.statistic == statistic }?
                .value
        }
        for scope in ["project:local", "objective:1", "policy_goal:5"] {
            #expect(strategic(scope, .schoolsEngaged, "schools") == 3)
            #expect(strategic(scope, .attendances, "attendances") == 228)
            #expect(strategic(scope, .staffTrained, "staff_attendances") == 28)
            #expect(strategic(scope, .learnerHours, "hours") == 234.5)
            #expect(strategic(scope, .partnersInvolved, "partners") == 2)
            #expect(strategic(scope, .pilotProgress, "implementing_or_beyond") == 11)
            #expect(strategic(scope, .pilotProgress, "target_schools") == 11)
        }
        #expect(strategic("objective:2", .sessions, "sessions") == nil)

        // Whole months read the monthly roll-ups; any other range reads every activity: same figures.
        let activityMetrics: [Metric] = [
            .authoritiesActive, .schoolsEngaged, .sessions, .attendances, .staffTrained, .learnerHours, .partnersInvolved,
        ]
        let days = try MetricsCalculator().compute(
            MetricQuery(period: try Period.parse("2024-09-01..2025-08-30").get(), la: "northvale", metrics: activityMetrics),
            on: try db.applicationConnection())
        func key(_ row: Observation) -> String { "\(row.metric) \(row.scope) \(row.dimension) \(row.category) \(row.statistic) \(row.shownValue)" }
        #expect(days.map(key).sorted() == rows.filter { activityMetrics.map(\.rawValue).contains($0.metric) }.map(key).sorted())
        #expect(!days.isEmpty)
    }

    @Test("the roll-out target applies from its date: 11 of 31 in 2025/26; cuts by pilot, month and objective")
    func targetsAndCuts() throws {
        let db = try TestDatabase.create()
        try Scenario.record(on: try db.applicationConnection())
        let next = try Self.figures(MetricQuery(period: try Period.parse("2025/26").get(), by: .pilot, metrics: [.pilotProgress]), db: db)
        #expect(Self.value(next, .pilotProgress, "implementing_or_beyond", scope: "pilot:northvale-pilot") == 11)
        #expect(Self.value(next, .pilotProgress, "target_schools", scope: "pilot:northvale-pilot") == 31)
        #expect(Self.value(next, .pilotProgress, "percent_of_target", scope: "pilot:northvale-pilot") == 35.5)

        let months = try Self.figures(MetricQuery(period: try Period.parse("2024/25").get(), by: .month, metrics: [.sessions]), db: db)
        #expect(Self.value(months, .sessions, "sessions", scope: "month:2024-11") == 1)
        #expect(Self.value(months, .sessions, "sessions", scope: "month:2025-01") == 1)
        #expect(Self.value(months, .sessions, "sessions", scope: "month:2024-12") == 0)
        #expect(months.filter { $0.dimension == "total" }.count == 12)

        let objectives = try Self.figures(
            MetricQuery(period: try Period.parse("2024-2029").get(), by: .objective, metrics: [.sessions, .contextPathways]), db: db)
        #expect(Self.value(objectives, .sessions, "sessions", scope: "objective:1") == 5)
        #expect(Self.value(objectives, .sessions, "sessions", scope: "objective:3") == 5)
        #expect(objectives.contains { $0.metric == "context_pathways" && $0.symbol == "z" })

        let filtered = try Self.figures(MetricQuery(period: try Period.parse("2024-Q4").get(), objective: 2, metrics: [.sessions]), db: db)
        #expect(Self.value(filtered, .sessions, "sessions") == 0)
    }

    @Test("shared among several connections, a computation gives the same rows in the same order as on one")
    func sharedConnections() throws {
        let db = try TestDatabase.create()
        try Scenario.record(on: try db.applicationConnection())
        _ = try Self.figures(MetricQuery(period: try Period.parse("2024/25").get(), metrics: [.sessions]), db: db)
        let calculator = MetricsCalculator()
        let connections = try (0..<3).map { _ in try db.applicationConnection() }
        for query in [
            MetricQuery(period: try Period.parse("2024-2029").get()),
            MetricQuery(period: try Period.parse("2024/25").get(), la: "northvale", by: .quarter),
            MetricQuery(period: try Period.parse("2024/25").get(), by: .objective, metrics: [.strategyProgress, .sessions, .pilotProgress]),
        ] {
            let one = try calculator.compute(query, on: connections[0])
            #expect(!one.isEmpty)
            #expect(try calculator.compute(query, on: connections) == one)
        }
    }

    @Test("a record made after the projections caught up shows in the next figures")
    func recordThenMetrics() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try Scenario.record(on: connection)
        let period = try Period.parse("2024/25").get()
        let before = try Self.figures(MetricQuery(period: period, metrics: [.sessions]), db: db)
        #expect(Self.value(before, .sessions, "sessions") == 5)
        let (_, outcome) = try RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: Scenario.today)).record(
            #"{"type":"activity_delivered","id":"a7","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900005","kind":"assembly","date":"2025-05-05","duration_minutes":30,"mode":"in_person","attendance":{"pupils":{"ks4":90}}}}"#,
            on: connection)
        guard case .accepted = outcome else {
            Issue.record("a7 was refused: \(outcome)")
            return
        }
        let after = try Self.figures(MetricQuery(period: period, metrics: [.sessions, .schoolsEngaged]), db: db)
        #expect(Self.value(after, .sessions, "sessions") == 6)
        #expect(Self.value(after, .schoolsEngaged, "schools") == 4)
    }
}

@Suite("survey interval, periods and disclosure control")
struct CalculationTests {
    @Test("Newcombe's hybrid score interval reproduces the published worked example (56/70 - 48/80)")
    func newcombe() throws {
        let result = try #require(Newcombe.difference(x1: 56, n1: 70, x2: 48, n2: 80))
        #expect(abs(result.difference - 0.2) < 1e-9)
        #expect(abs(result.lower - 0.0524) < 0.00005)
        #expect(abs(result.upper - 0.3339) < 0.00005)
        let wilson = try #require(Newcombe.wilson(x: 56, n: 70))
        #expect(abs(wilson.lower - 0.6918) < 0.00005 && abs(wilson.upper - 0.8770) < 0.00005)
        #expect(Newcombe.difference(x1: 1, n1: 0, x2: 1, n2: 2) == nil)
    }

    @Test("every way of writing a period, and clear refusals")
    func periods() throws {
        func range(_ text: String) throws -> String {
            let period = try Period.parse(text).get()
            return "\(period.start)..\(period.end)"
        }
        #expect(try range("2024/25") == "2024-09-01..2025-08-31")
        #expect(try range("FY2024/25") == "2024-04-01..2025-03-31")
        #expect(try range("2024-Q3") == "2024-07-01..2024-09-30")
        #expect(try range("2024-Q1") == "2024-01-01..2024-03-31")
        #expect(try range("2024-02") == "2024-02-01..2024-02-29")
        #expect(try range("2024-09-01..2025-08-31") == "2024-09-01..2025-08-31")
        #expect(try range("2024-2029") == "2024-09-01..2029-08-31")
        for bad in ["2024/26", "2024-13", "2024-Q5", "2025-01-01..2024-01-01", "last year", "FY2024"] {
            guard case .failure(let error) = Period.parse(bad) else {
                Issue.record("\(bad) was read")
                continue
            }
            #expect(error.description.contains(bad))
        }
        let months = MetricsCalculator.split(try Period.parse("2024-08-15..2024-10-10").get(), by: .month)
        #expect(months.map(\.label) == ["2024-08", "2024-09", "2024-10"])
        #expect(months.first?.start.description == "2024-08-15" && months.last?.end.description == "2024-10-10")
    }

    func cell(_ dimension: String, _ category: String, _ value: Double, sensitivity: Sensitivity = .children, scope: String = "la:northvale")
        -> Observation
    {
        Observation(
            metric: "attendances", period: "2024/25", scope: scope, dimension: dimension, category: category,
            statistic: "attendances", value: value, sensitivity: sensitivity)
    }

    func shown(_ rows: [Observation], _ dimension: String, _ category: String) -> String {
        rows.first { $0.dimension == dimension && $0.category == category }!.shownValue
    }

    @Test("dfe: 1-5 suppressed, 0 stays 0, the next smallest cell suppressed where the total gives one away")
    func dfePrimaryAndSecondary() {
        let table = [
            cell("total", "total", 112), cell("audience", "pupils", 68), cell("audience", "staff", 44, sensitivity: .count),
            cell("pupils", "ks1", 3), cell("pupils", "ks2", 40), cell("pupils", "ks3", 25), cell("pupils", "ks4", 0),
        ]
        let out = DisclosurePolicy(.dfe).apply(table)
        #expect(shown(out, "pupils", "ks1") == "c")
        // 68 - 40 - 25 would give ks1 away: the next smallest, ks3, goes too.
        #expect(shown(out, "pupils", "ks3") == "c")
        #expect(shown(out, "pupils", "ks2") == "40")
        #expect(shown(out, "pupils", "ks4") == "0")
        #expect(shown(out, "audience", "pupils") == "68")
        #expect(shown(out, "audience", "staff") == "44")
        #expect(shown(out, "total", "total") == "112")
    }

    @Test("dfe: where the other cells are zero, the total itself is suppressed; national totals round to 10")
    func dfeTotalGivesAway() {
        let table = [
            cell("total", "total", 4 + 20, scope: "all"), cell("pupils", "ks1", 4, scope: "all"),
            cell("pupils", "ks2", 0, scope: "all"), cell("audience", "pupils", 4, scope: "all"),
            cell("audience", "staff", 20, sensitivity: .count, scope: "all"),
        ]
        let out = DisclosurePolicy(.dfe).apply(table)
        #expect(shown(out, "pupils", "ks1") == "c")
        #expect(shown(out, "audience", "pupils") == "c")
        // The total would give pupils away (24 - 20): suppressed too.
        #expect(shown(out, "total", "total") == "c")
        let rounded = DisclosurePolicy(.dfe).apply([cell("total", "total", 1234, scope: "region:london")])
        #expect(rounded[0].shownValue == "1230")
    }

    @Test("dfe: every young-people figure at national or regional scope is rounded, not only the total; an authority's are not")
    func dfeRoundsEveryWideCell() {
        // With an authority's key stage 3 suppressed in one region, the national key stage 3
        // minus the other region's gave it back: every such cell is rounded now.
        let national = DisclosurePolicy(.dfe).apply([
            cell("total", "total", 1234, scope: "all"), cell("audience", "pupils", 817, scope: "all"),
            cell("pupils", "ks3", 402, scope: "all"), cell("pupils", "ks4", 415, scope: "all"),
            cell("pupils", "ks3", 203, scope: "region:london"), cell("audience", "staff", 417, sensitivity: .count, scope: "all"),
        ])
        #expect(national.map(\.shownValue) == ["1230", "820", "400", "420", "200", "417"])
        // One authority's figures (asked with --la) keep adding up.
        let authority = DisclosurePolicy(.dfe).apply(
            [
                cell("total", "total", 88, scope: "all"), cell("audience", "pupils", 60, scope: "all"), cell("pupils", "ks3", 60, scope: "all"),
            ], authority: "northvale")
        #expect(authority.map(\.shownValue) == ["88", "60", "60"])
    }

    @Test("hours of pupils follow the count of pupils: suppressed with it, and with the cells of their breakdown")
    func derivedFiguresFollowTheirCount() {
        func hours(_ category: String, _ value: Double, base: Int?) -> Observation {
            Observation(
                metric: "learner_hours", period: "2024/25", scope: "la:northvale", dimension: category == "total" ? "total" : "audience",
                category: category, statistic: "hours", value: value, sensitivity: base == nil ? .other : .derived, base: base)
        }
        // One 45-minute assembly of 3 pupils and 6 staff: pupil hours 2.3 gave 3 pupils back.
        let table = [hours("total", 6.8, base: 3), hours("pupils", 2.3, base: 3), hours("staff", 4.5, base: nil)]
        for policy in [DisclosurePolicy.Name.dfe, .nhs] {
            let out = DisclosurePolicy(policy).apply(table)
            #expect(out[1].value == nil, "\(policy)")
            #expect(out[0].value == nil, "\(policy): the total minus staff hours would give pupil hours back")
            #expect(out[2].shownValue == "4.5")
        }
        let many = DisclosurePolicy(.dfe).apply([hours("total", 157.5, base: 200), hours("pupils", 150, base: 200), hours("staff", 7.5, base: nil)])
        #expect(many.map(\.shownValue) == ["157.5", "150", "7.5"])
    }

    @Test("nhs: 1-7 shown as *, others rounded to 5; counts of staff and sessions never suppressed; none leaves all")
    func nhs() {
        let table = [cell("pupils", "ks1", 6), cell("pupils", "ks2", 43), cell("pupils", "ks3", 0), cell("staff", "dsl", 2, sensitivity: .count)]
        let out = DisclosurePolicy(.nhs).apply(table)
        #expect(out.map(\.shownValue) == ["*", "45", "0", "2"])
        #expect(DisclosurePolicy(.none).apply(table).map(\.shownValue) == ["6", "43", "0", "2"])
    }

    @Test("survey shares: a base under 10, or an area's share from fewer than 3 schools, is suppressed in every policy")
    func surveyThresholds() {
        func share(base: Int, schools: Int, scope: String) -> Observation {
            Observation(
                metric: "survey_change", period: "2024/25", scope: scope, dimension: "measure", category: "pupils/feel_safe_in_school",
                statistic: "baseline_percent", value: 61.2, sensitivity: .share, base: base, schools: schools)
        }
        for policy in [DisclosurePolicy.Name.dfe, .nhs] {
            let out = DisclosurePolicy(policy).apply([
                share(base: 8, schools: 5, scope: "all"), share(base: 200, schools: 2, scope: "la:northvale"),
                share(base: 200, schools: 2, scope: "pilot:p"), share(base: 200, schools: 3, scope: "la:northvale"),
            ])
            #expect(out.map(\.shownValue) == ["c", "c", "61.2", "61.2"])
        }
        var strict = DisclosurePolicy(.dfe)
        strict.minimumSurveyBase = 500
        #expect(strict.apply([share(base: 200, schools: 9, scope: "all")])[0].shownValue == "c")
    }
}
