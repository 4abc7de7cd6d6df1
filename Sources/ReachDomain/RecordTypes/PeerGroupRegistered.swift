extension RecordType {
    /// A peer group is known only by a pseudonymous id and numbers: never a name.
    public static let peerGroupRegistered = RecordType(
        "peer_group_registered",
        example:
            #"{"peer_group_id":"pg-7f3a","la_id":"northvale","size":6,"age_min":13,"age_max":15,"genders":{"female":2,"male":4,"other_or_unknown":0},"school_ids":["900001"],"location_ids":["northvale-park-1"]}"#
    ) { reader, _ in
        let id = reader.identifier("peer_group_id")
        let authority = reader.identifier("la_id")
        let size = reader.count("size", minimum: 2, maximum: 200)
        let youngest = reader.count("age_min", minimum: 8, maximum: 25)
        let oldest = reader.count("age_max", minimum: 8, maximum: 25)
        if let youngest, let oldest, youngest > oldest {
            reader.refuse("age_max", "is \(oldest), below age_min \(youngest)")
        }
        if var genders = reader.object("genders", required: false) {
            let total = ["female", "male", "other_or_unknown"].compactMap { genders.count($0, required: false) }.reduce(0, +)
            if let size, total > size { genders.refuse("total", "the gender counts add up to \(total), more than the group's size \(size)") }
            reader.finish(genders)
        }
        let schools = reader.identifiers("school_ids") ?? []
        let locations = reader.identifiers("location_ids") ?? []
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.peerGroup.stream(id), authorityID: authority, occurredOn: nil,
            references: [Reference(.authority, authority, field: "la_id")]
                + schools.map { Reference(.school, $0, field: "school_ids", authority: authority) }
                + locations.map { Reference(.location, $0, field: "location_ids", authority: authority) },
            rule: .register(what: "peer group \(id)", field: "peer_group_id"))
    }
}
