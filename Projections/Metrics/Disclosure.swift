import ReachDomain

/// Disclosure control: how figures that leave the programme are protected (see the domain
/// specification, "Disclosure control").
///
/// - `dfe` (the default): a count of young people from 1 to 5 is shown as `c`; where a total
///   would let a single suppressed cell be worked out, the next smallest cell of that breakdown
///   is suppressed too (secondary suppression); 0 stays 0; every figure of young people at
///   national or regional scope (the total and each category) is rounded to the nearest 10,
///   an authority's are not; percentages have one decimal place.
/// - `nhs`: counts of young people from 1 to 7 are shown as `*`, and every other such count is
///   rounded to the nearest 5; no secondary suppression.
/// - In every policy, a figure derived from a count of young people (learner hours of pupils,
///   and the total hours that hold them) follows that count: hidden with it, and rounded with
///   it (the rounded count times the hours per pupil).
/// - `none`: unsuppressed, for researchers inside the programme.
///
/// In every policy but `none`, a survey share is shown as `c` when its base is under
/// ``minimumSurveyBase`` respondents, or when an area's share comes from fewer than
/// ``minimumSurveySchools`` schools. A figure derived from a count of young people (learner
/// hours of pupils) is suppressed whenever that count would be, and takes part in secondary
/// suppression with the cells of its breakdown. Counts of sessions, schools, staff and
/// partners are never suppressed.
public struct DisclosurePolicy: Sendable, Equatable {
    public enum Name: String, Sendable, CaseIterable {
        case dfe, nhs, none
    }

    public var name: Name
    /// dfe: counts of young people from 1 up to this are suppressed.
    public var dfeThreshold = 5
    /// nhs: counts of young people from 1 up to this are suppressed; others rounded to `nhsRounding`.
    public var nhsThreshold = 7
    public var nhsRounding = 5
    /// dfe: national and regional totals of young people are rounded to this.
    public var dfeTotalRounding = 10
    /// Survey shares with fewer respondents answering are suppressed.
    public var minimumSurveyBase = 10
    /// An area's survey share from fewer schools is suppressed.
    public var minimumSurveySchools = 3

    public init(_ name: Name) { self.name = name }

    /// Applies the policy to a table of observations. `authority` names the one authority the
    /// table is about, if any: its whole (`all`) is then an authority's, not rounded.
    public func apply(_ rows: [Observation], authority: String? = nil) -> [Observation] {
        guard name != .none else { return rows }
        var out = rows
        for index in out.indices where out[index].symbol == nil {
            let row = out[index]
            switch row.sensitivity {
            case .derived:
                // Shown only when the count it comes from would be.
                guard let base = row.base, base > 0 else { continue }
                if base <= (name == .nhs ? nhsThreshold : dfeThreshold) {
                    out[index].symbol = name == .nhs ? "*" : "c"
                    out[index].value = nil
                }
            case .children:
                guard let value = row.value, value > 0 else { continue }
                switch name {
                case .dfe:
                    if value <= Double(dfeThreshold) {
                        out[index].symbol = "c"
                        out[index].value = nil
                    }
                case .nhs:
                    if value <= Double(nhsThreshold) {
                        out[index].symbol = "*"
                        out[index].value = nil
                    }
                case .none: break
                }
            case .share:
                let area = !["pilot:", "project:", "objective:", "policy_goal:"].contains { row.scope.hasPrefix($0) }
                if (row.base ?? 0) < minimumSurveyBase || (area && (row.schools ?? 0) < minimumSurveySchools) {
                    out[index].symbol = "c"
                    out[index].value = nil
                }
            case .count, .other:
                break
            }
        }
        out = surveyCounts(out)
        if name == .dfe { out = secondarySuppression(out) }
        out = followRounding(out, authority: authority)
        for index in out.indices where out[index].symbol == nil && out[index].sensitivity == .children {
            guard let value = out[index].value, let base = rounding(out[index], authority: authority) else { continue }
            out[index].value = (value / Double(base)).rounded() * Double(base)
        }
        return out
    }

    /// The base a count of young people in `row` is rounded to: 5 under `nhs`; 10 under `dfe`
    /// for every scope wider than one authority (the nation, a region, a strategy project,
    /// objective or policy goal, which span authorities, or a month of them); nil when shown
    /// exactly (one authority's under `dfe`).
    func rounding(_ row: Observation, authority: String?) -> Int? {
        switch name {
        case .dfe:
            let wide = authority == nil && !row.scope.hasPrefix("la:") && !row.scope.hasPrefix("pilot:")
            return wide ? dfeTotalRounding : nil
        case .nhs: return nhsRounding
        case .none: return nil
        }
    }

    /// A figure derived from a count of young people follows that count's rounding: pupil hours
    /// are the pupils as shown (rounded) times the hours per pupil, so that hours over a known
    /// duration give back no more than the rounded count does; a total that holds them (all
    /// learner hours) holds them so rounded, since the other audiences' hours are shown exactly
    /// beside it. (Under `nhs` pupils 9 over one 60-minute session showed 9 hours, and so 9
    /// pupils where the count showed 10.)
    func followRounding(_ rows: [Observation], authority: String?) -> [Observation] {
        var out = rows
        struct Key: Hashable { var metric, period, scope, statistic: String }
        // The pupils' own derived cell of each table (hours of pupils), before rounding.
        var pupils: [Key: Double] = [:]
        for row in rows where row.sensitivity == .derived && row.symbol == nil && row.dimension == "audience" && row.category == "pupils" {
            pupils[Key(metric: row.metric, period: row.period, scope: row.scope, statistic: row.statistic)] = row.value
        }
        for index in out.indices where out[index].sensitivity == .derived && out[index].symbol == nil {
            let row = out[index]
            guard let value = row.value, let base = row.base, base > 0, let step = rounding(row, authority: authority) else { continue }
            let rounded = (Double(base) / Double(step)).rounded() * Double(step)
            let held =
                row.dimension == "total" ? pupils[Key(metric: row.metric, period: row.period, scope: row.scope, statistic: row.statistic)] : nil
            let derivedPart = held ?? value
            let shown = value - derivedPart + derivedPart * rounded / Double(base)
            out[index].value = (shown * 10).rounded() / 10
        }
        return out
    }

    /// A pupils' survey share times its base gives back how many pupils agreed (4.3% of 94 is
    /// 4): a share is suppressed when the pupils agreeing, or those not agreeing, are a small
    /// count; and the difference between baseline and follow-up (with its interval) goes with
    /// either share, since with the other it gives it back.
    func surveyCounts(_ rows: [Observation]) -> [Observation] {
        var out = rows
        let threshold = name == .nhs ? nhsThreshold : dfeThreshold
        struct Key: Hashable { var period, scope, category: String }
        var hidden = Set<Key>()
        for index in out.indices
        where out[index].metric == Metric.surveyChange.rawValue && out[index].sensitivity == .share
            && out[index].category.hasPrefix("\(RespondentGroup.pupils.rawValue)/")
        {
            let row = out[index]
            let key = Key(period: row.period, scope: row.scope, category: row.category)
            guard row.statistic == "baseline_percent" || row.statistic == "follow_up_percent" else { continue }
            if row.symbol != nil {
                hidden.insert(key)
                continue
            }
            guard let value = row.value, let base = row.base, base > 0 else { continue }
            let agreeing = Int((value / 100 * Double(base)).rounded())
            if (1...threshold).contains(agreeing) || (1...threshold).contains(base - agreeing) {
                out[index].symbol = name == .nhs ? "*" : "c"
                out[index].value = nil
                hidden.insert(key)
            }
        }
        for index in out.indices
        where out[index].metric == Metric.surveyChange.rawValue && out[index].statistic.hasPrefix("difference")
            && out[index].symbol == nil && hidden.contains(Key(period: out[index].period, scope: out[index].scope, category: out[index].category))
        {
            out[index].symbol = name == .nhs ? "*" : "c"
            out[index].value = nil
        }
        return out
    }

    /// Where a breakdown has exactly one suppressed cell and its total is shown, the suppressed
    /// cell could be worked out by subtraction: suppress the next smallest cell of the
    /// breakdown too. Repeated until nothing changes, since a total can itself be a cell of a
    /// wider breakdown (key stages add up to pupils, audiences to the total).
    func secondarySuppression(_ rows: [Observation]) -> [Observation] {
        var out = rows
        struct Key: Hashable { var metric, period, scope, statistic, dimension: String }
        var changed = true
        while changed {
            changed = false
            var groups: [Key: [Int]] = [:]
            for (index, row) in out.enumerated() where (row.sensitivity == .children || row.sensitivity == .derived) && row.dimension != "total" {
                groups[Key(metric: row.metric, period: row.period, scope: row.scope, statistic: row.statistic, dimension: row.dimension), default: []]
                    .append(index)
            }
            for (key, members) in groups.sorted(by: {
                ($0.key.metric, $0.key.period, $0.key.scope, $0.key.statistic, $0.key.dimension) < (
                    $1.key.metric, $1.key.period, $1.key.scope, $1.key.statistic, $1.key.dimension
                )
            }) {
                // The breakdown's total: the cell it details (pupils for key stages), else the metric's total.
                let parent =
                    out.firstIndex {
                        $0.metric == key.metric && $0.period == key.period && $0.scope == key.scope
                            && $0.statistic == key.statistic && $0.dimension == "audience" && $0.category == key.dimension
                    }
                    ?? out.firstIndex {
                        $0.metric == key.metric && $0.period == key.period && $0.scope == key.scope
                            && $0.statistic == key.statistic && $0.dimension == "total"
                    }
                guard let parent, out[parent].symbol == nil else { continue }
                let suppressed = members.filter { out[$0].symbol != nil }
                guard suppressed.count == 1 else { continue }
                let candidates = members.filter { out[$0].symbol == nil && (out[$0].value ?? 0) > 0 }
                if let next = candidates.min(by: { (out[$0].value ?? 0, out[$0].category) < (out[$1].value ?? 0, out[$1].category) }) {
                    out[next].symbol = "c"
                    out[next].value = nil
                } else {
                    // Only zeros or nothing else: the total itself gives the cell away.
                    out[parent].symbol = "c"
                    out[parent].value = nil
                }
                changed = true
            }
        }
        return out
    }
}
