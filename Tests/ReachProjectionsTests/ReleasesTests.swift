import Foundation
import ReachCalendar
import ReachDomain
import Testing

@testable import ReachProjections

/// Everything an outsider can hold counts: the figures of every release an authority's lead
/// read or exported, before and after late records, corrections and withdrawals, in both
/// calendars. Each case is solved by the independent attacker (``Attacker``).
@Suite("disclosure control across releases, calendars and derived figures")
struct ReleasesTests {
    /// Pupils (by key stage) and staff attending, by month (`2024-10`).
    typealias Months = [String: (ks3: Int, ks4: Int, staff: Int)]

    /// The unsuppressed tables of `months` and of every standard period they fall in: each
    /// quarter, academic year, financial year and the strategy period.
    static func tables(_ months: Months) -> [String: [Observation]] {
        var sums: [String: (Int, Int, Int)] = [:]
        var out: [String: [Observation]] = [:]
        for (label, month) in months {
            out[label] = DifferencingTests.attendances(label, ks3: month.ks3, ks4: month.ks4, staff: month.staff)
            let start = try! Period.parse(label).get().start
            var parents = [
                "\(start.year)-Q\((start.month - 1) / 3 + 1)", Period.financialYear(start.month >= 4 ? start.year : start.year - 1).label,
                Period.academicYear(start.month >= 9 ? start.year : start.year - 1).label,
            ]
            if start >= CalendarDate(year: 2024, month: 9, day: 1) { parents.append("2024-2029") }
            for parent in parents {
                let sum = sums[parent] ?? (0, 0, 0)
                sums[parent] = (sum.0 + month.ks3, sum.1 + month.ks4, sum.2 + month.staff)
            }
        }
        for (label, sum) in sums { out[label] = DifferencingTests.attendances(label, ks3: sum.0, ks4: sum.1, staff: sum.2) }
        return out
    }

    /// `months` published under dfe as Reach publishes one authority: solved together with
    /// the releases before it (unless `solved` is false, to show what that prevents).
    static func publish(_ name: String, _ months: Months, after released: [Attacker.Release], solved: Bool = true) -> Attacker.Release {
        let raw = tables(months)
        let publication = Publication(policy: DisclosurePolicy(.dfe))
        let applied = raw.mapValues { publication.policy.apply($0, authority: "northvale") }
        let prior = solved ? released.map { Release(tables: $0.published, truth: Release.truth(of: $0.raw)) } : []
        return Attacker.Release(name: name, published: publication.consistentOverTime(applied, raw: raw, released: prior), raw: raw)
    }

    /// Publishes each of `versions` in turn, each after the ones before were released.
    static func releases(_ versions: [Months], solved: Bool = true) -> [Attacker.Release] {
        var out: [Attacker.Release] = []
        for (index, months) in versions.enumerated() { out.append(publish("r\(index + 1)", months, after: out, solved: solved)) }
        return out
    }

    /// September 2024 to March 2025, staff every month, pupils in October (9) and December (30).
    static let before: Months = {
        var months: Months = [:]
        for label in ["2024-09", "2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03"] { months[label] = (0, 0, 4) }
        months["2024-10"] = (9, 0, 4)
        months["2024-12"] = (30, 0, 4)
        return months
    }()

    @Test("a late record: October 9 and the year 9 read, then 2 pupils recorded in November; no release gives November back")
    func lateRecord() throws {
        var after = Self.before
        after["2024-11"] = (2, 0, 4)
        let solved = Self.releases([Self.before, after])
        let attack = try Attacker.attack(solved)
        #expect(attack.hiddenSmall > 0)
        #expect(attack.determined.isEmpty, "\(attack.determined)")
        // October, shown before and unchanged, is shown again; November is not given back by the year.
        #expect(solved[1].published["2024-10"]?.first { $0.category == "pupils" }?.value == 9)
        // Published without the first release, the second gives November back.
        let naive = try Attacker.attack(Self.releases([Self.before, after], solved: false))
        #expect(naive.determined.contains { $0.hasPrefix("r2 2024-11 ") }, "\(naive.determined)")
    }

    @Test("corrections and withdrawals in closed and open months, over four releases in both calendars: no hidden count is given back")
    func correctionsAndWithdrawals() throws {
        var versions = [Self.before]
        var next = Self.before
        next["2024-10"] = (7, 2, 4) // a correction moves 2 pupils to key stage 4 (closed month)
        next["2025-03"] = (12, 9, 4) // the month in progress
        versions.append(next)
        next["2025-03"] = (9, 9, 4) // a withdrawal in the month in progress
        next["2024-12"] = (3, 0, 4) // a late record in a closed month
        versions.append(next)
        next["2024-10"] = (7, 0, 4) // a withdrawal in a closed month
        next["2025-04"] = (1, 30, 4) // a new month, a new financial year
        versions.append(next)
        let attack = try Attacker.attack(Self.releases(versions))
        #expect(attack.hiddenSmall > 0)
        #expect(attack.determined.isEmpty, "\(attack.determined)")
    }

    @Test("many small months over three releases, both calendars together: no hidden count is given back")
    func manySmallMonths() throws {
        for seed in UInt64(1)...UInt64(3) {
            var random = DifferencingTests.Generator(state: seed)
            var months: Months = [:]
            var start = CalendarDate(year: 2024, month: 4, day: 1)
            while start < CalendarDate(year: 2025, month: 10, day: 1) {
                let small = random.next(0...2) == 0
                months[Period.month(start.year, start.month).label] = (
                    small ? random.next(0...4) : random.next(0...30), small ? random.next(0...3) : random.next(0...30), random.next(0...9)
                )
                start = CalendarDate(year: start.month == 12 ? start.year + 1 : start.year, month: start.month % 12 + 1, day: 1)
            }
            var versions = [months]
            for _ in 0..<2 {
                for _ in 0..<3 {
                    let label = months.keys.sorted()[random.next(0...(months.count - 1))]
                    let month = months[label]!
                    months[label] = (max(0, month.ks3 + random.next(-2...3)), month.ks4, month.staff)
                }
                versions.append(months)
            }
            let attack = try Attacker.attack(Self.releases(versions))
            #expect(attack.hiddenSmall > 0, "seed \(seed)")
            #expect(attack.determined.isEmpty, "seed \(seed): \(attack.determined)")
        }
    }

    @Test("under nhs, pupil hours follow the rounded count: one assembly of 60 minutes (ks3 1, ks4 8, 10 staff) gives no key stage back")
    func derivedFiguresUnderNHS() throws {
        func row(_ metric: String, _ dimension: String, _ category: String, _ value: Double, _ sensitivity: Sensitivity, base: Int? = nil)
            -> Observation
        {
            Observation(
                metric: metric, period: "2024-10", scope: "all", dimension: dimension, category: category,
                statistic: metric == "attendances" ? "attendances" : "hours", value: value, sensitivity: sensitivity, base: base)
        }
        let raw = [
            row("attendances", "total", "total", 19, .children), row("attendances", "audience", "pupils", 9, .children),
            row("attendances", "audience", "staff", 10, .count), row("attendances", "pupils", "ks3", 1, .children),
            row("attendances", "pupils", "ks4", 8, .children), row("learner_hours", "total", "total", 19, .derived, base: 9),
            row("learner_hours", "audience", "pupils", 9, .derived, base: 9), row("learner_hours", "audience", "staff", 10, .other),
        ]
        let shown = DisclosurePolicy(.nhs).apply(raw)
        // Pupils 9 shown as 10; their hours as 10 (the rounded count times one hour), not 9.
        #expect(shown[1].value == 10)
        #expect(shown[6].value == 10)
        #expect(shown[5].value == 20)
        #expect(shown[3].symbol == "*")
        // Hours over the known 60 minutes are pupils: the attacker is told so.
        let release = Attacker.Release(name: "r1", published: ["2024-10": shown], raw: ["2024-10": raw], rounding: Attacker.Release.rounded(5))
        let hoursArePupils = (
            terms: [
                ("r1", "2024-10", "learner_hours\u{1F}audience\u{1F}pupils\u{1F}hours", 1.0),
                ("r1", "2024-10", "attendances\u{1F}audience\u{1F}pupils\u{1F}attendances", -1.0),
            ],
            constant: 0.0
        )
        let attack = try Attacker.attack([release], equations: [hoursArePupils])
        #expect(attack.hiddenSmall == 1)
        #expect(attack.determined.isEmpty, "\(attack.determined)")
        // Shown exactly, as before, the hours gave key stage 3 back.
        var exact = shown
        exact[6].value = 9
        exact[5].value = 19
        let leak = try Attacker.attack(
            [
                Attacker.Release(
                    name: "r1", published: ["2024-10": exact], raw: ["2024-10": raw],
                    rounding: { $0.metric == "learner_hours" ? 1 : Attacker.Release.rounded(5)($0) })
            ],
            equations: [hoursArePupils])
        #expect(leak.determined.contains { $0.hasPrefix("r1 2024-10 pupils/ks3") || $0.contains("ks3") }, "\(leak.determined)")
    }
}
