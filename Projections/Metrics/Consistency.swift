import ReachDomain

/// A release of an authority's figures that has left the programme (read by its lead or
/// login, or exported): its tables as published, and the true values behind the figures that
/// add up over time. Every later publication is solved together with it (``Suppression``).
public struct Release: Sendable, Equatable {
    /// The tables as published, by period label.
    public var tables: [String: [Observation]]
    /// The true value of each figure that adds up over time, by period label and ``key(_:)``.
    public var truth: [String: [String: Double]]

    public init(tables: [String: [Observation]], truth: [String: [String: Double]]) {
        (self.tables, self.truth) = (tables, truth)
    }

    /// A figure's place in its period's table: metric, dimension, category and statistic.
    public static func key(_ row: Observation) -> String {
        "\(row.metric)\u{1F}\(row.dimension)\u{1F}\(row.category)\u{1F}\(row.statistic)"
    }

    /// The true values of the figures that add up over time in unsuppressed `tables`.
    public static func truth(of tables: [String: [Observation]]) -> [String: [String: Double]] {
        tables.mapValues { rows in
            var out: [String: Double] = [:]
            for row in rows where Publication.sumsOverTime(row) { out[key(row)] = row.value ?? 0 }
            return out
        }
    }
}

/// The system of sums an outsider can write from everything published of one authority, and
/// the cells to hide so that it determines no hidden figure about young people.
///
/// Every figure that adds up over time is a cell: this publication's, and each earlier
/// release's. Each sum is an equation: a total and its parts (pupils and their key stages),
/// each academic year, quarter and financial year and its months, the strategy period and its
/// academic years, within each publication; and, between this publication and a release, a
/// figure whose true value has not changed since (a late record elsewhere, a correction of
/// another month) is one and the same unknown (an outsider may know which figures did not
/// change). Shown cells are known; hidden ones are unknowns. A figure shown in a release and
/// unchanged since is shown again (it is known already), and only this publication's other
/// cells may be hidden. Reduced row echelon form finds what the equations determine; while
/// a hidden cell is determined, one more cell is hidden (the smallest shown cell of an
/// equation that holds it, or the same figures in another period of such a sum).
struct Suppression {
    struct Cell {
        /// -1 for this publication, else the index of the release.
        var release: Int
        var period: String
        var row: Int
        var key: String
        var metric, dimension, category, statistic: String
    }

    private(set) var tables: [String: [Observation]]
    private var cells: [Cell] = []
    private var hidden: [Bool] = []
    /// Cells that may not be hidden now: the releases' (they have left), and this
    /// publication's that a release showed unchanged.
    private var fixed: [Bool] = []
    private var value: [Double] = []
    private var equations: [[(Int, Double)]] = []
    /// Each cell by release, period and key.
    private var place: [Int: [String: [String: Int]]] = [:]
    /// The equations that hold each cell (by index).
    private var holds: [Int: [Int]] = [:]

    init(_ tables: [String: [Observation]], truth: [String: [String: Double]], released: [Release]) {
        self.tables = tables
        add(tables, release: -1)
        for (index, release) in released.enumerated() { add(release.tables, release: index) }
        for release in [-1] + Array(released.indices) { equations += sums(of: release) }
        link(truth: truth, released: released)
        for (index, equation) in equations.enumerated() { for (cell, _) in equation { holds[cell, default: []].append(index) } }
    }

    private mutating func add(_ tables: [String: [Observation]], release: Int) {
        for (period, rows) in tables.sorted(by: { $0.key < $1.key }) {
            for (index, row) in rows.enumerated() where Publication.sumsOverTime(row) {
                let key = Release.key(row)
                place[release, default: [:]][period, default: [:]][key] = cells.count
                cells.append(
                    Cell(
                        release: release, period: period, row: index, key: key, metric: row.metric, dimension: row.dimension,
                        category: row.category, statistic: row.statistic))
                hidden.append(row.symbol != nil)
                fixed.append(release >= 0)
                value.append(row.value ?? 0)
            }
        }
    }

    /// The sums within one publication: a total and its parts, and each period of its months.
    private func sums(of release: Int) -> [[(Int, Double)]] {
        guard let periods = place[release] else { return [] }
        var out: [[(Int, Double)]] = []
        var byMetric: [String: [String: [Int]]] = [:]
        for (period, keys) in periods { for id in keys.values { byMetric[cells[id].metric, default: [:]][period, default: []].append(id) } }
        for (metric, byPeriod) in byMetric.sorted(by: { $0.key < $1.key }) {
            out += breakdowns(metric: metric, byPeriod, in: periods)
            // Across periods: each academic year, quarter and financial year is its months,
            // the strategy period its academic years.
            for (parent, children) in Publication.timeSums(Set(byPeriod.keys)) {
                for id in (byPeriod[parent] ?? []).sorted() {
                    out.append([(id, 1)] + children.compactMap { periods[$0]?[cells[id].key] }.map { ($0, -1) })
                }
            }
        }
        return out
    }

    /// A total and its parts, in each period: the parts of a breakdown add up to the cell they
    /// detail (pupils for key stages), else to the metric's total of that statistic. (A
    /// breakdown with no cell in a period is all 0 there, and its total is then known.)
    private func breakdowns(metric: String, _ byPeriod: [String: [Int]], in periods: [String: [String: Int]]) -> [[(Int, Double)]] {
        struct Group: Hashable, Comparable {
            var dimension, statistic: String
            static func < (a: Group, b: Group) -> Bool { (a.dimension, a.statistic) < (b.dimension, b.statistic) }
        }
        var groups = Set<Group>()
        var audiences = Set<String>()
        for ids in byPeriod.values {
            for id in ids where cells[id].dimension != "total" {
                groups.insert(Group(dimension: cells[id].dimension, statistic: cells[id].statistic))
                if cells[id].dimension == "audience" { audiences.insert(cells[id].category) }
            }
        }
        var out: [[(Int, Double)]] = []
        for (period, ids) in byPeriod.sorted(by: { $0.key < $1.key }) {
            var members: [Group: [Int]] = Dictionary(uniqueKeysWithValues: groups.map { ($0, []) })
            for id in ids where cells[id].dimension != "total" {
                members[Group(dimension: cells[id].dimension, statistic: cells[id].statistic), default: []].append(id)
            }
            for (group, parts) in members.sorted(by: { $0.key < $1.key }) {
                let parentKey =
                    audiences.contains(group.dimension)
                    ? "\(metric)\u{1F}audience\u{1F}\(group.dimension)\u{1F}\(group.statistic)"
                    : "\(metric)\u{1F}total\u{1F}total\u{1F}\(group.statistic)"
                guard let parent = periods[period]?[parentKey] else { continue }
                out.append([(parent, 1)] + parts.sorted().map { ($0, -1) })
            }
        }
        return out
    }

    /// Between this publication and each release: a figure whose true value has not changed
    /// is the same unknown; shown then, it is shown now.
    private mutating func link(truth: [String: [String: Double]], released: [Release]) {
        for (period, keys) in (place[-1] ?? [:]).sorted(by: { $0.key < $1.key }) {
            for (key, id) in keys.sorted(by: { $0.key < $1.key }) {
                let now = truth[period]?[key] ?? 0
                for (index, release) in released.enumerated() {
                    guard let old = place[index]?[period]?[key], (release.truth[period]?[key] ?? 0) == now else { continue }
                    equations.append([(id, 1), (old, -1)])
                    guard !hidden[old] else { continue }
                    (hidden[id], fixed[id], value[id]) = (false, true, value[old])
                    tables[period]![cells[id].row].value = value[old]
                    tables[period]![cells[id].row].symbol = nil
                }
            }
        }
    }

    /// Hides cells until none hidden is determined (or nothing that may be hidden would help).
    mutating func solve() {
        while true {
            var next: Set<Int>?
            for cell in Self.determined(unknowns()) {
                next = choice(for: cell)
                if next != nil { break }
            }
            guard let next else { return }
            for id in next {
                hidden[id] = true
                tables[cells[id].period]![cells[id].row].symbol = "c"
                tables[cells[id].period]![cells[id].row].value = nil
            }
        }
    }

    /// This publication's tables, with the cells hidden.
    func published() -> [String: [Observation]] { tables }

    private func unknowns(also extra: Set<Int> = []) -> [[(Int, Double)]] {
        equations.map { $0.filter { hidden[$0.0] || extra.contains($0.0) } }
    }

    private func smallestFirst(_ a: Int, _ b: Int) -> Bool {
        (value[a] == 0 ? 1 : 0, value[a], a) < (value[b] == 0 ? 1 : 0, value[b], b)
    }

    /// What to hide next while `cell` is determined, as little as will do. The options: the
    /// same figures as are hidden in its own table, in another period of a sum that holds it
    /// (a month of the same quarter, academic and financial year first: hidden together in two
    /// months, neither month's can be told); one shown cell of an equation that holds it (of
    /// its own table first, then the smallest); and, when it is determined through other
    /// hidden cells alone, a shown cell of any equation with a hidden one. Each option must
    /// leave every equation that holds the cell, or a cell of the option, with two hidden
    /// cells or more; of those, the first after which neither the cell nor the option is
    /// determined; else the first that leaves two hidden cells in each, else the first option
    /// (the loop solves again and hides more). Nil when
    /// nothing that may be hidden is left.
    private func choice(for cell: Int) -> Set<Int>? {
        func free(_ id: Int) -> Bool { !hidden[id] && !fixed[id] }
        let home = cells[cell]
        let holding = holds[cell] ?? []
        var options: [Set<Int>] = []
        // Copies in the other periods of the sums over time that hold it.
        let hiddenHere = (place[home.release]?[home.period] ?? [:]).filter { hidden[$0.value] }.map(\.key)
        var sharing: [String: Int] = [:]
        for index in holding {
            for period in Set(equations[index].map { cells[$0.0].period }) where period != home.period { sharing[period, default: 0] += 1 }
        }
        var copies: [(Int, Double, Set<Int>)] = []
        for (period, count) in sharing {
            let copy = Set(hiddenHere.compactMap { place[home.release]?[period]?[$0] }.filter(free))
            if !copy.isEmpty { copies.append((count, copy.map { value[$0] }.reduce(0, +), copy)) }
        }
        options += copies.sorted { ($1.0, $0.1, $0.2.min()!) < ($0.0, $1.1, $1.2.min()!) }.map(\.2)
        // One shown cell of an equation that holds it.
        let singles = Set(holding.flatMap { equations[$0].map(\.0) }.filter(free))
        options += singles.sorted { a, b in
            let (ownA, ownB) = (cells[a].period == home.period, cells[b].period == home.period)
            return ownA != ownB ? ownA : smallestFirst(a, b)
        }.map { [$0] }
        if options.isEmpty {
            // Determined through hidden cells alone: a shown cell of any equation with a hidden one.
            let linked = Set(equations.filter { $0.contains { hidden[$0.0] } }.flatMap { $0.map(\.0) }.filter(free))
            options = linked.sorted(by: smallestFirst).map { [$0] }
        }
        guard let first = options.first else { return nil }
        func enough(_ option: Set<Int>) -> Bool {
            let touched = Set(holding + option.flatMap { holds[$0] ?? [] })
            return touched.allSatisfy { index in equations[index].count { hidden[$0.0] || option.contains($0.0) } >= 2 }
        }
        let tried = options.lazy.filter(enough).prefix(8).first { option in
            let after = Set(Self.determined(unknowns(also: option), among: option.union([cell])))
            return !after.contains(cell) && after.isDisjoint(with: option)
        }
        return tried ?? first
    }

    // MARK: Solving

    /// The unknowns that a system of linear equations determines (of the parts of the system
    /// that hold one of `focus`, when given). Each equation lists the unknowns it holds with
    /// their coefficients (the rest of it is known). Reduced row echelon form: an unknown is
    /// determined when a row of it is that unknown alone.
    static func determined<Unknown: Hashable & Comparable>(_ equations: [[(Unknown, Double)]], among focus: Set<Unknown>? = nil) -> [Unknown] {
        let names = Array(Set(equations.flatMap { $0.map(\.0) })).sorted()
        let number = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        let found = determined(equations.map { $0.map { (number[$0.0]!, $0.1) } }, among: focus.map { Set($0.compactMap { number[$0] }) })
        return found.map { names[$0] }
    }

    /// ``determined(_:among:)`` over unknowns numbered from 0. Unknowns that share no equation,
    /// even through others, are solved apart.
    static func determined(_ equations: [[(Int, Double)]], among focus: Set<Int>?) -> [Int] {
        var parent: [Int: Int] = [:]
        func root(_ unknown: Int) -> Int {
            var node = unknown
            while let up = parent[node], up != node { node = up }
            return node
        }
        for equation in equations {
            guard let first = equation.first?.0 else { continue }
            for (unknown, _) in equation {
                if parent[unknown] == nil { parent[unknown] = unknown }
                let (a, b) = (root(first), root(unknown))
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var parts: [Int: [[(Int, Double)]]] = [:]
        for equation in equations {
            guard let first = equation.first?.0 else { continue }
            parts[root(first), default: []].append(equation)
        }
        let wanted = focus.map { Set($0.filter { parent[$0] != nil }.map(root)) }
        return parts.keys.sorted().filter { wanted?.contains($0) ?? true }.flatMap { solved(parts[$0]!) }
    }

    /// ``determined(_:among:)`` for one connected system.
    static func solved(_ equations: [[(Int, Double)]]) -> [Int] {
        var pivots: [Int: [Int: Double]] = [:]
        var order: [Int] = []
        for equation in equations {
            var row: [Int: Double] = [:]
            for (unknown, coefficient) in equation { row[unknown, default: 0] += coefficient }
            for column in Array(row.keys) {
                guard let factor = row[column], let pivot = pivots[column] else { continue }
                for (other, value) in pivot { row[other, default: 0] -= factor * value }
            }
            row = row.filter { abs($0.value) > 1e-9 }
            guard let column = row.keys.min(), let lead = row[column] else { continue }
            row = row.mapValues { $0 / lead }
            for key in Array(pivots.keys) {
                guard let factor = pivots[key]![column] else { continue }
                var reduced = pivots[key]!
                for (other, value) in row { reduced[other, default: 0] -= factor * value }
                pivots[key] = reduced.filter { abs($0.value) > 1e-9 }
            }
            pivots[column] = row
            order.append(column)
        }
        return order.filter { pivots[$0]?.count == 1 }
    }
}
