extension RecordType {
    public static let localAuthorityRegistered = RecordType(
        "local_authority_registered",
        example: #"{"la_id":"northvale","name":"Northvale Council","gss_code":"E09000099","region":"london","joined_on":"2024-09-01"}"#
    ) { reader, _ in
        let id = reader.identifier("la_id")
        _ = reader.text("name")
        if let gss = reader.text("gss_code", required: false, maxLength: 9),
            !(gss.count == 9 && "EWSN".contains(gss.first!) && gss.dropFirst().allSatisfy(\.isNumber))
        {
            reader.refuse("gss_code", "'\(gss)' is not a GSS code such as E09000023")
        }
        _ = reader.word("region", Region.self)
        let joined = reader.date("joined_on")
        guard let id, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.authority.stream(id), authorityID: id, occurredOn: joined, references: [],
            rule: .register(what: "local authority \(id)", field: "la_id"))
    }
}
