import CXlsxWriter
import Foundation
import ReachProjections

/// An authority's summary as a spreadsheet (XLSX, written by libxlsxwriter): a first sheet
/// naming the authority, the period and the disclosure policy with the symbols' meanings, then
/// one sheet per section (metric), its header row frozen, each figure a numeric cell and each
/// symbol standing in for one a text cell.
public enum SummaryWorkbook {
    /// The meaning of each symbol a figure may be shown as.
    public static let symbols: [(String, String)] = [
        ("c", "confidential: a small number about young people"),
        ("x", "not shown, so that a small number elsewhere cannot be worked out"),
        ("z", "not applicable"), (":", "not available"), ("*", "suppressed (NHS policy: from 1 to 7)"),
    ]

    /// The columns of each section's sheet.
    static let columns = ["period", "scope", "dimension", "category", "statistic", "value", "policy"]

    /// The workbook's bytes.
    public static func make(la: String, period: String, policy: String, rows: [Observation]) throws -> Data {
        // Made in a directory of this process's user alone (0700), as a file of mode 0600, and
        // removed once read: an authority's figures are never readable by anyone else here.
        let directory = try PrivateFile.temporaryDirectory(prefix: "reach-summary")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("summary.xlsx")
        try PrivateFile.create(path)
        var options = lxw_workbook_options()
        let workbook = directory.withCString { tmpdir in
            options.tmpdir = UnsafeMutablePointer(mutating: tmpdir)
            return workbook_new_opt(path, &options)
        }
        guard let workbook else { throw RequestError("the spreadsheet could not be made") }
        let bold = workbook_add_format(workbook)
        format_set_bold(bold)
        let wrapped = workbook_add_format(workbook)
        format_set_text_wrap(wrapped)

        let about = workbook_add_worksheet(workbook, "About")
        worksheet_set_column(about, 0, 0, 28, nil)
        worksheet_set_column(about, 1, 1, 70, wrapped)
        var line: UInt32 = 0
        func aboutRow(_ label: String, _ value: String, _ format: UnsafeMutablePointer<lxw_format>? = nil) {
            worksheet_write_string(about, line, 0, label, bold)
            worksheet_write_string(about, line, 1, value, format)
            line += 1
        }
        aboutRow("Local authority", la)
        aboutRow("Period", period)
        aboutRow("Disclosure policy", policy)
        aboutRow("Made", ISO8601DateFormatter().string(from: Date()))
        aboutRow(
            "About",
            "Reach: the reach and impact of the Contextual Safeguarding programme's pilots. Small numbers about young people are shown as symbols under the disclosure policy named above. One sheet per section; each figure is a number, each symbol text."
        )
        line += 1
        worksheet_write_string(about, line, 0, "Symbol", bold)
        worksheet_write_string(about, line, 1, "Meaning", bold)
        line += 1
        for (symbol, meaning) in symbols { aboutRow(symbol, meaning) }

        var sections: [String: [Observation]] = [:]
        var order: [String] = []
        for row in rows {
            if sections[row.metric] == nil { order.append(row.metric) }
            sections[row.metric, default: []].append(row)
        }
        for metric in order {
            let sheet = workbook_add_worksheet(workbook, String(metric.prefix(31)))
            for (index, column) in columns.enumerated() {
                worksheet_write_string(sheet, 0, UInt16(index), column, bold)
            }
            worksheet_freeze_panes(sheet, 1, 0)
            worksheet_set_column(sheet, 0, 4, 22, nil)
            for (index, row) in (sections[metric] ?? []).enumerated() {
                let at = UInt32(index + 1)
                for (column, text) in [row.period, row.scope, row.dimension, row.category, row.statistic].enumerated() {
                    worksheet_write_string(sheet, at, UInt16(column), text, nil)
                }
                if let value = row.value, row.symbol == nil {
                    worksheet_write_number(sheet, at, 5, value, nil)
                } else {
                    worksheet_write_string(sheet, at, 5, row.symbol ?? ":", nil)
                }
                worksheet_write_string(sheet, at, 6, policy, nil)
            }
        }
        let status = workbook_close(workbook)
        guard status == LXW_NO_ERROR else {
            throw RequestError("the spreadsheet could not be made: \(String(cString: lxw_strerror(status)))")
        }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }
}
