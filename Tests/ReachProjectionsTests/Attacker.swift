import Foundation
import ReachDomain
import Testing

@testable import ReachProjections

/// The independent attacker, `Tests/Tools/disclosure_attack.py`: from every published cell of
/// every release (its labels, the shown value or symbol, the base it was rounded to) it writes
/// the sums anyone could (parts and totals, months in quarters, academic and financial years,
/// academic years in the strategy period, unchanged figures between releases) and bounds each
/// hidden small count with integer programming (SciPy's MILP). It shares no code with the
/// publication's own solver.
enum Attacker {
    /// One release as an outsider holds it: its published tables, and the unsuppressed ones
    /// behind them (the truth: which hidden cells are small, and which did not change).
    struct Release {
        var name: String
        var published: [String: [Observation]]
        var raw: [String: [Observation]]
        /// The base each shown figure was rounded to (1: exact).
        var rounding: @Sendable (Observation) -> Int = { _ in 1 }

        /// Figures about young people rounded to `base`, the others exact (`nhs`).
        static func rounded(_ base: Int) -> @Sendable (Observation) -> Int {
            { $0.sensitivity == .children || $0.sensitivity == .derived ? base : 1 }
        }
    }

    struct Result {
        var hiddenSmall: Int
        /// The hidden small counts the equations give back (`release period dimension/category`).
        var determined: [String]
    }

    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Python with SciPy: REACH_PYTHON_TOOLS, or the venv the README's test command makes.
    static var python: String? {
        let environment = ProcessInfo.processInfo.environment
        let candidates = [environment["REACH_PYTHON_TOOLS"].map { $0 + "/python" }, root + "/.build/pytools/bin/python"].compactMap { $0 }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Attacks `releases` together; `equations` are extra sums an outsider knows, over
    /// `(release, period, key)` cells, such as pupil hours = pupils for one 60-minute session.
    static func attack(_ releases: [Release], equations: [(terms: [(String, String, String, Double)], constant: Double)] = []) throws -> Result {
        guard let python else {
            Issue.record("Python with SciPy is not installed: Deploy/test.sh (the README's test command) installs it in .build/pytools")
            return Result(hiddenSmall: 0, determined: [])
        }
        var cells: [[String: Any]] = []
        var index: [String: Int] = [:]
        for release in releases {
            let truth = ReachProjections.Release.truth(of: release.raw)
            // Every row of the metrics that hold figures about young people (staff beside pupils).
            let metrics = Set(release.published.values.flatMap { $0 }.filter(Publication.sumsOverTime).map(\.metric))
            let rawValues = release.raw.mapValues { rows in Dictionary(rows.map { (ReachProjections.Release.key($0), $0.value ?? 0) }) { a, _ in a } }
            for (period, rows) in release.published.sorted(by: { $0.key < $1.key }) {
                for row in rows where metrics.contains(row.metric) && row.scope == "all" {
                    let key = ReachProjections.Release.key(row)
                    index["\(release.name)|\(period)|\(key)"] = cells.count
                    cells.append([
                        "release": release.name, "period": period, "metric": row.metric, "statistic": row.statistic,
                        "dimension": row.dimension, "category": row.category, "value": row.value.map { $0 as Any } ?? NSNull(),
                        "symbol": row.symbol.map { $0 as Any } ?? NSNull(), "rounding": row.symbol == nil ? release.rounding(row) : 1,
                        "truth": truth[period]?[key] ?? rawValues[period]?[key] ?? 0,
                    ])
                }
            }
        }
        let extra: [[String: Any]] = equations.compactMap { equation in
            let terms = equation.terms.compactMap { term in index["\(term.0)|\(term.1)|\(term.2)"].map { [$0, term.3] as [Any] } }
            return terms.count == equation.terms.count ? ["terms": terms, "constant": equation.constant] : nil
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("attack-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: ["cells": cells, "equations": extra]).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root + "/Tests/Tools/disclosure_attack.py", file.path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus != 2, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            Issue.record("the attacker could not read the tables: \(message)")
            return Result(hiddenSmall: 0, determined: [])
        }
        let determined = (object["determined"] as? [[String: Any]] ?? []).map { cell in
            ["release", "period", "dimension", "category"].map { "\(cell[$0] ?? "")" }.joined(separator: " ")
                + " = \(cell["truth"] ?? "")"
        }
        return Result(hiddenSmall: object["hidden_small"] as? Int ?? 0, determined: determined)
    }
}
