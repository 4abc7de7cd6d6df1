import Foundation
import ReachDomain
import ReachPostgres
import Testing

@testable import ReachProjections

/// Whether outputs that one person outside the programme can obtain combine to give back a
/// suppressed count: across periods, across a total and its parts, and through survey shares.
@Suite("disclosure control against differencing")
struct DifferencingTests {
    /// A small deterministic generator, so that each seed is one reproducible authority.
    struct Generator {
        var state: UInt64
        mutating func next(_ range: ClosedRange<Int>) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return range.lowerBound + Int((state >> 33) % UInt64(range.count))
        }
    }

    static func attendances(_ period: String, ks3: Int, ks4: Int, staff: Int) -> [Observation] {
        func row(_ dimension: String, _ category: String, _ value: Int, _ sensitivity: Sensitivity) -> Observation {
            Observation(
                metric: "attendances", period: period, scope: "all", dimension: dimension, category: category,
                statistic: "attendances", value: Double(value), sensitivity: sensitivity)
        }
        return [
            row("total", "total", ks3 + ks4 + staff, ks3 + ks4 > 0 ? .children : .count), row("audience", "pupils", ks3 + ks4, .children),
            row("audience", "staff", staff, .count), row("pupils", "ks3", ks3, .children), row("pupils", "ks4", ks4, .children),
        ]
        .filter { $0.dimension == "total" || ($0.value ?? 0) > 0 }
    }

    /// One authority's unsuppressed tables for the months of 2023/24 to 2025/26, those years,
    /// the strategy period, and the quarters and financial years those months make, many
    /// months with small numbers of pupils.
    static func authority(seed: UInt64) -> [String: [Observation]] {
        var random = Generator(state: seed)
        var tables: [String: [Observation]] = [:]
        var sums: [String: (Int, Int, Int)] = [:]
        for year in 2023...2025 {
            let academic = Period.academicYear(year)
            for month in Publication.months(of: academic) {
                let small = random.next(0...2) == 0
                let ks3 = small ? random.next(0...4) : random.next(0...40)
                let ks4 = small ? random.next(0...3) : random.next(0...40)
                let staff = random.next(0...9)
                tables[month.label] = attendances(month.label, ks3: ks3, ks4: ks4, staff: staff)
                let quarter = "\(month.start.year)-Q\((month.start.month - 1) / 3 + 1)"
                let financial = Period.financialYear(month.start.month >= 4 ? month.start.year : month.start.year - 1).label
                for label in [academic.label, quarter, financial] + (year >= 2024 ? ["2024-2029"] : []) {
                    let sum = sums[label] ?? (0, 0, 0)
                    sums[label] = (sum.0 + ks3, sum.1 + ks4, sum.2 + staff)
                }
            }
        }
        for (label, sum) in sums { tables[label] = attendances(label, ks3: sum.0, ks4: sum.1, staff: sum.2) }
        return tables
    }

    /// The equations anyone can write from the published tables: each academic year, quarter
    /// and financial year is its months, the strategy period its years, a total its parts. Returns the suppressed cells they
    /// determine, found by solving them (independently of the publication's own bookkeeping).
    static func recoverable(_ published: [String: [Observation]]) -> [String] {
        struct Cell: Hashable, Comparable {
            var period, category: String
            static func < (a: Cell, b: Cell) -> Bool { (a.period, a.category) < (b.period, b.category) }
        }
        func hidden(_ period: String, _ category: String) -> Bool {
            published[period]?.first { $0.category == category }?.symbol != nil
        }
        var equations: [[(Cell, Double)]] = []
        func equation(_ parent: (String, String), _ children: [(String, String)]) {
            equations.append(
                ([(parent, 1.0)] + children.map { ($0, -1.0) }).filter { hidden($0.0.0, $0.0.1) }
                    .map { (Cell(period: $0.0.0, category: $0.0.1), $0.1) })
        }
        for (period, _) in published {
            equation((period, "total"), [(period, "pupils")]) // (staff are always shown)
            equation((period, "pupils"), [(period, "ks3"), (period, "ks4")])
        }
        for category in ["total", "pupils", "ks3", "ks4"] {
            for year in 2023...2025 {
                let academic = Period.academicYear(year)
                equation((academic.label, category), Publication.months(of: academic).map { ($0.label, category) })
            }
            // (The first and last quarters and financial years hold only the months there are.)
            for label in published.keys where label.hasPrefix("FY") || label.contains("Q") {
                let period = try! Period.parse(label).get()
                equation((label, category), Publication.months(of: period).map { ($0.label, category) }.filter { published[$0.0] != nil })
            }
            equation(("2024-2029", category), [("2024/25", category), ("2025/26", category)])
        }
        return Suppression.determined(equations).map { "\($0.period) \($0.category)" }
    }

    @Test("no suppressed count comes back from any sum or difference of an authority's published months, years and breakdowns")
    func acrossPeriods() throws {
        let publication = Publication(policy: DisclosurePolicy(.dfe))
        var primary = 0
        for seed in UInt64(1)...UInt64(25) {
            let raw = Self.authority(seed: seed)
            let naive = raw.mapValues { publication.policy.apply($0, authority: "northvale") }
            primary += naive.values.flatMap { $0 }.filter { $0.symbol != nil }.count
            let published = publication.consistentOverTime(naive)
            #expect(Self.recoverable(published).isEmpty, "seed \(seed): \(Self.recoverable(published))")
            if seed <= 4 {
                // The independent attacker (integer programming over every sum) finds nothing either.
                let attack = try Attacker.attack([Attacker.Release(name: "r1", published: published, raw: raw)])
                #expect(attack.hiddenSmall > 0 && attack.determined.isEmpty, "seed \(seed): \(attack.determined)")
            }
            for (period, rows) in published {
                for row in rows {
                    // Shown figures are exact (an authority's are not rounded), and small counts never show.
                    let truth = raw[period]!.first { $0.category == row.category }!.value!
                    if let value = row.value {
                        #expect(value == truth)
                        #expect(value == 0 || value > 5 || row.sensitivity == .count)
                    }
                }
            }
            // The attack the review made: a year minus its other eleven months.
            for year in ["2023/24", "2024/25", "2025/26"] {
                let months = Publication.months(of: try! Period.parse(year).get()).map(\.label)
                for category in ["ks3", "ks4", "pupils"] {
                    let hidden = months.filter { published[$0]!.first { $0.category == category }?.symbol != nil }
                    let yearShown = published[year]!.first { $0.category == category }?.symbol == nil
                    #expect(!(yearShown && hidden.count == 1), "seed \(seed) \(year) \(category): \(hidden)")
                }
            }
        }
        // Without the consistency, the same tables leak.
        #expect(primary > 0)
        let leaks = (UInt64(1)...UInt64(25)).filter {
            !Self.recoverable(Self.authority(seed: $0).mapValues { publication.policy.apply($0, authority: "northvale") }).isEmpty
        }
        #expect(!leaks.isEmpty)
    }

    @Test("the solver finds what a system of sums determines, and only that")
    func solver() {
        // x + y, x + z and y + z known: each is determined.
        #expect(Set(Suppression.determined([[("x", 1), ("y", 1)], [("x", 1), ("z", 1)], [("y", 1), ("z", 1)]])) == ["x", "y", "z"])
        // x + y and y + z known: none is.
        #expect(Suppression.determined([[("x", 1), ("y", 1)], [("y", 1), ("z", -1)]]).isEmpty)
        // A year less its shown months is its one hidden month.
        #expect(Set(Suppression.determined([[("year", 1), ("oct", -1)], [("year", 1)]])) == ["oct", "year"])
    }

    @Test("a pupils' survey share never gives back how many agreed, nor the difference the share")
    func surveyShares() {
        func share(_ statistic: String, _ value: Double, base: Int) -> Observation {
            Observation(
                metric: "survey_change", period: "2024/25", scope: "all", dimension: "measure", category: "pupils/feel_safe_in_school",
                statistic: statistic, value: value, sensitivity: .share, base: base, schools: 4)
        }
        // 4.3% of 94 is 4 pupils; 95.7% of 94 leaves 4 who did not agree.
        for (value, hidden) in [(4.3, true), (95.7, true), (50.0, false)] {
            let out = DisclosurePolicy(.dfe).apply([
                share("baseline_percent", value, base: 94), share("follow_up_percent", 50, base: 120),
                share("difference_pp", 50 - value, base: 94),
            ])
            #expect((out[0].symbol != nil) == hidden, "\(value)")
            #expect((out[2].symbol != nil) == hidden, "\(value): the difference with the other share gives this one back")
            #expect(out[1].shownValue == "50")
        }
    }

    @Test("under a policy, only standard periods and whole authorities; quarters and financial years add up from months as years do")
    func whatMayBeAsked() throws {
        func query(_ period: String, la: String? = "northvale", by: ScopeDimension? = nil, pilot: String? = nil) throws -> MetricQuery {
            MetricQuery(period: try Period.parse(period).get(), la: la, pilot: pilot, by: by)
        }
        #expect(Publication.refusal(try query("2024-10-01..2024-10-30"))?.contains("standard period") == true)
        #expect(Publication.refusal(try query("2024-10-01..2024-10-30", la: nil))?.contains("standard period") == true)
        #expect(Publication.refusal(try query("2024/25", by: .pilot)) != nil)
        #expect(Publication.refusal(try query("2024/25", pilot: "nv-secondary")) != nil)
        #expect(Publication.refusal(try query("2024/25", by: .month)) == nil)
        #expect(Publication.refusal(try query("2024-2029", la: nil, by: .la)) != nil)
        #expect(Publication.refusal(try query("2024-2029", la: nil, by: .pilot)) != nil)
        #expect(Publication.refusal(try query("2024-2029", la: nil, pilot: "nv-secondary")) != nil)
        #expect(Publication.refusal(try query("2024-2029", la: nil, by: .region)) == nil)
        #expect(Publication.refusal(try query("2024-2029", la: nil, by: .project)) == nil)
        // Both calendars add up from months, and are solved together.
        let sums = Dictionary(
            uniqueKeysWithValues: Publication.timeSums(["FY2024/25", "2024-Q4", "2024/25", "2024-2029", "2024-10"]).map { ($0.0, $0.1) })
        #expect(sums["FY2024/25"] == Publication.months(of: Period.financialYear(2024)).map(\.label))
        #expect(sums["2024-Q4"] == ["2024-10", "2024-11", "2024-12"])
        #expect(sums["2024/25"]?.count == 12)
        #expect(sums["2024-10"] == nil)
    }
}
