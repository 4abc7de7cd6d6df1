import Foundation
import ReachDomain
import ReachEventLog

/// A record type as the catalogue lists it: what the command line's `reach template`, the
/// API's `/api/v1/catalogue` and its templates say about it.
public struct CatalogueEntry: Sendable, Encodable {
    public var type: String
    public var schemaVersion: Int32
    /// Whether `event_corrected` may amend its records.
    public var amendable: Bool
    /// The CSV columns of an import of this type, or nil where its records hold lists of
    /// objects (import those as JSON Lines).
    public var csvColumns: [String]?
    /// An example record's `data`, as JSON text.
    public var example: String
    /// The JSON Schema of a record of the type, its data described by the type's own checks.
    public var schema: JSONValue

    enum CodingKeys: String, CodingKey {
        case type
        case schemaVersion = "schema_version"
        case amendable
        case csvColumns = "csv_columns"
        case example, schema
    }
}

/// A template to start a file of records from: a CSV header and an example row, or (for types
/// whose records hold lists of objects) one JSON Lines record.
public struct RecordTemplate: Sendable {
    public var text: String
    public var isCSV: Bool
    /// Why there is no CSV template, where there is none.
    public var note: String?
}

extension ReachApplication {
    /// Every record type, by name.
    public static func catalogue() -> [CatalogueEntry] {
        RecordType.recordable.values.sorted { $0.name < $1.name }.map { type in
            var columns: [String]?
            if case .success(let layout) = CSVLayout.of(type) {
                columns = layout.template.split(separator: "\n").first.map { $0.split(separator: ",").map(String.init) }
            }
            return CatalogueEntry(
                type: type.name, schemaVersion: type.schemaVersion, amendable: type.isAmendable, csvColumns: columns,
                example: type.example, schema: type.jsonSchema)
        }
    }

    /// The template of a record type; an unknown type is refused, naming the types there are.
    public static func template(_ type: String) throws -> RecordTemplate {
        guard let recordType = RecordType.recordable[type] else {
            throw RequestError(RecordType.unknown(String(type.prefix(60))).reason)
        }
        switch CSVLayout.of(recordType) {
        case .success(let layout):
            return RecordTemplate(text: layout.template, isCSV: true, note: nil)
        case .failure(let refusal):
            return RecordTemplate(
                text: #"{"type":"\#(type)","id":"example-1","data":\#(recordType.example)}"# + "\n", isCSV: false, note: refusal.reason)
        }
    }
}
