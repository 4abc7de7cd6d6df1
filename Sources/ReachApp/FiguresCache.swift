import Foundation
import ReachProjections

/// Figures a service has computed, kept for a few seconds (`REACH_HTTP_FIGURES_SECONDS`) and
/// given again to anyone asking the same question with the same grant: figures are a function
/// of the projections alone, and a dashboard asks the same question over and over. An answer is
/// at most that old, as an authority's published summaries are at most as old as the runner's
/// last round. Keyed by everything the access decision settled (query, policy, schema and the
/// asker's authorities), so that no asker gets an answer computed for a wider grant.
///
/// `@unchecked Sendable` rather than a `Mutex`: askers wait for one another's answers on
/// `condition`, which a `Mutex` cannot do; `entries` is only read or written while holding it.
public final class FiguresCache: @unchecked Sendable {
    private struct Entry {
        var made: ContinuousClock.Instant
        var rows: [Observation]?
        var computing: Bool
    }

    // (Guards `entries`; answers are computed on threads of their own, which may wait on it.)
    private let condition = NSCondition()
    private var entries: [String: Entry] = [:]
    /// How long an answer is given again.
    public let lifetime: Duration

    public init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// The rows for `key`, computed by `make` unless an answer younger than ``lifetime`` is
    /// kept. One asker computes a question at a time: the others wait for it, or, when an
    /// older answer is kept, are given that meanwhile.
    func rows(_ key: String, _ make: () throws -> [Observation]) throws -> [Observation] {
        condition.lock()
        while true {
            guard let entry = entries[key] else { break }
            if let rows = entry.rows, ContinuousClock.now - entry.made < lifetime || entry.computing {
                condition.unlock()
                return rows
            }
            guard entry.computing else { break }
            condition.wait()
        }
        let previous = entries[key]
        entries[key] = Entry(made: previous?.made ?? .now, rows: previous?.rows, computing: true)
        if entries.count > 1_000 {
            let now = ContinuousClock.now
            entries = entries.filter { $0.value.computing || now - $0.value.made < lifetime }
        }
        condition.unlock()
        do {
            let rows = try make()
            condition.lock()
            entries[key] = Entry(made: .now, rows: rows, computing: false)
            condition.broadcast()
            condition.unlock()
            return rows
        } catch {
            condition.lock()
            entries[key] = previous.map { Entry(made: $0.made, rows: $0.rows, computing: false) }
            condition.broadcast()
            condition.unlock()
            throw error
        }
    }

    /// The key of a grant's question.
    static func key(_ kind: String, _ query: MetricQuery, policy: DisclosurePolicy.Name, schema: String, authorities: Set<String>) -> String {
        let parts: [String?] = [
            kind, query.period.label, query.la, query.region, query.pilot, query.project, query.objective.map(String.init),
            query.policyGoal.map(String.init), query.by?.rawValue, query.metrics.map(\.rawValue).joined(separator: ","),
            policy.rawValue, schema, authorities.sorted().joined(separator: ","),
        ]
        return parts.map { $0 ?? "-" }.joined(separator: "\u{1F}")
    }
}
