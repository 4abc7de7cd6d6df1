extension RecordType {
    /// A local authority's summary left the programme: who (the event's actor), for which
    /// authority and period, in which format, under which disclosure policy. Only the export
    /// writes it (the log refuses it from any other append); its checks describe it.
    public static let summaryExported = RecordType(
        "summary_exported",
        example: #"{"la_id":"northvale","period":"2024/25","format":"csv","policy":"dfe","rows":120,"date":"2025-09-15"}"#,
        amendable: false,
        // Written by the export itself (publication.append_export), never recorded.
        system: true
    ) { reader, _ in
        let authority = reader.identifier("la_id")
        _ = reader.text("period", maxLength: 30)
        if let format = reader.text("format", maxLength: 10), !["csv", "json", "xlsx", "html", "pdf"].contains(format) {
            reader.refuse("format", "'\(format)' is not an export format; choose csv, json, xlsx, html or pdf")
        }
        if let policy = reader.text("policy", maxLength: 10), !["dfe", "nhs"].contains(policy) {
            reader.refuse("policy", "'\(policy)' is not a disclosure policy for an export; choose dfe or nhs")
        }
        _ = reader.count("rows")
        let date = reader.date("date")
        guard let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: "exports:\(authority)", authorityID: authority, occurredOn: date,
            references: [Reference(.authority, authority, field: "la_id")], rule: .none)
    }
}
