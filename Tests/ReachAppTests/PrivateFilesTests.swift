import Foundation
import ReachApp
import ReachProjections
import Testing

/// Files made on the way to an answer (an authority's spreadsheet) are no one else's to read.
@Suite("private files")
struct PrivateFilesTests {
    @Test("a summary's spreadsheet is made in a directory of mode 0700, as a file of mode 0600, and nothing of it is left behind")
    func workbook() throws {
        let temporary = FileManager.default.temporaryDirectory.path
        func left() throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: temporary).filter { $0.hasPrefix("reach-summary") })
        }
        let before = try left()
        let directory = try PrivateFile.temporaryDirectory(prefix: "reach-summary")
        let mode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        let file = directory + "/probe"
        try PrivateFile.create(file)
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600)
        #expect(throws: (any Error).self) { try PrivateFile.create(file) } // never over an existing file
        try FileManager.default.removeItem(atPath: directory)

        let rows = [
            Observation(
                metric: "sessions", period: "2024/25", scope: "all", dimension: "total", category: "total", statistic: "sessions", value: 12,
                sensitivity: .count)
        ]
        let data = try SummaryWorkbook.make(la: "northvale", period: "2024/25", policy: "dfe", rows: rows)
        #expect(data.starts(with: [0x50, 0x4B])) // a zip: an XLSX
        #expect(try left() == before)
    }
}
