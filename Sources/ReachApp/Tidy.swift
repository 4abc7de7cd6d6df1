import CSV
import Foundation
import ReachDomain
import ReachEventLog
import ReachProjections

/// How figures are written: an aligned table for people, or CSV and JSON for R, pandas and
/// spreadsheets (with a `policy` column).
public enum TidyFormat: String, Sendable, CaseIterable {
    case table, csv, json
}

/// Tidy figures as text: one observation per row, in the columns every front shows.
public enum Tidy {
    /// The tidy columns of every figure.
    public static let columns = ["metric", "period", "scope", "dimension", "category", "statistic", "value"]

    static func cells(_ row: Observation) -> [String] {
        [row.metric, row.period, row.scope, row.dimension, row.category, row.statistic, row.shownValue]
    }

    /// Renders figures as a table, CSV, or JSON (one array of objects); `extra` adds columns
    /// with one value for every row (such as the `la_id` of an export).
    public static func render(_ rows: [Observation], format: TidyFormat, policy: DisclosurePolicy.Name, extra: [String: String] = [:]) throws
        -> String
    {
        switch format {
        case .table:
            return TextTable.render([columns] + rows.map(cells))
        case .csv:
            let writer = try CSVWriter(stream: .toMemory())
            let extraKeys = extra.keys.sorted()
            try writer.write(row: columns + ["policy"] + extraKeys)
            for row in rows { try writer.write(row: cells(row) + [policy.rawValue] + extraKeys.map { extra[$0]! }) }
            writer.stream.close()
            return String(decoding: writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as! Data, as: UTF8.self)
        case .json:
            var objects: [JSONValue] = []
            for row in rows {
                var object: JSONObject = [
                    "metric": .string(row.metric), "period": .string(row.period), "scope": .string(row.scope),
                    "dimension": .string(row.dimension), "category": .string(row.category), "statistic": .string(row.statistic),
                    "policy": .string(policy.rawValue),
                ]
                object["value"] = row.symbol.map(JSONValue.string) ?? row.value.map(JSONValue.number) ?? .null
                for (key, value) in extra { object[key] = .string(value) }
                objects.append(.object(object))
            }
            return JSONValue.array(objects).text
        }
    }
}

/// Plain aligned text tables for people.
public enum TextTable {
    public static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
