import ReachCalendar

extension RecordType {
    public static let contextReferralReceived = RecordType(
        "context_referral_received",
        example:
            #"{"referral_id":"northvale-ref-1","la_id":"northvale","school_id":"900001","source":"school DSL","concerns":["harmful_incidents_in_context"],"date":"2025-01-13"}"#,
        csv: .rows(alsoColumns: ["location_id": .string(""), "peer_group_id": .string("")])
    ) { reader, _ in
        let id = reader.identifier("referral_id")
        let authority = reader.identifier("la_id")
        let contexts: [(Entity, String?)] = [
            (.school, reader.identifier("school_id", required: false)),
            (.location, reader.identifier("location_id", required: false)),
            (.peerGroup, reader.identifier("peer_group_id", required: false)),
        ]
        let named = contexts.filter { $0.1 != nil }
        if named.count != 1 && !reader.refusals.contains(where: { $0.field.hasSuffix("_id") }) {
            reader.refuse("school_id", "name exactly one context: school_id, location_id or peer_group_id")
        }
        _ = reader.text("source", maxLength: 100)
        _ = reader.words("concerns", ThresholdIndicator.self)
        let date = reader.date("date")
        guard let id, let authority, let context = named.first, let contextID = context.1, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.referral.stream(id), authorityID: authority, occurredOn: date,
            references: [
                Reference(context.0, contextID, field: context.0 == .peerGroup ? "peer_group_id" : "\(context.0.rawValue)_id", authority: authority)
            ],
            rule: .register(what: "referral \(id)", field: "referral_id"))
    }

    /// A record about a referral's context, appended to the referral's stream.
    static func aboutReferral(_ reader: inout FieldReader) -> (referral: String, authority: String, date: CalendarDate?)? {
        let referral = reader.identifier("referral_id")
        let authority = reader.identifier("la_id")
        let date = reader.date("date")
        guard let referral, let authority else { return nil }
        return (referral, authority, date)
    }
}
