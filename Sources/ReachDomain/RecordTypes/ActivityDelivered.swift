import ReachEventLog

extension RecordType {
    /// Version 2: `mode` replaced version 1's `virtual` flag (see `upcasts`).
    public static let activityDelivered = RecordType(
        "activity_delivered", version: 2,
        example:
            #"{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","accredited_by":"Restorative Justice Council","delivered_by":{"team":"CS schools team","partners":["partner-1"]},"attendance":{"pupils":{"ks3":180,"ks4":0},"staff":{"teaching":6,"pastoral":2},"parents_carers":0,"professionals":{"police":1}}}"#,
        csv: .rows(alsoColumns: [
            "online": .bool(false),
            // Every audience gets a column, not only those in the example.
            "attendance": .object([
                "pupils": .object(JSONObject(KeyStage.allCases.map { ($0.rawValue, JSONValue.number(0)) })),
                "staff": .object(JSONObject(StaffRole.allCases.map { ($0.rawValue, JSONValue.number(0)) })),
                "parents_carers": .number(0),
                "professionals": .object(JSONObject(PartnerKind.allCases.map { ($0.rawValue, JSONValue.number(0)) })),
            ]),
        ]),
        upcasts: [
            // 1 -> 2: `virtual: true/false` became `mode: in_person | virtual`, so that further
            // modes (such as hybrid) can be added as words.
            1: { data in
                var data = data
                if case .bool(let virtual)? = data.removeValue(forKey: "virtual") {
                    data["mode"] = .string(virtual ? DeliveryMode.virtual.rawValue : DeliveryMode.inPerson.rawValue)
                }
                return data
            }
        ]
    ) { reader, recordID in
        let pilot = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        let school = reader.identifier("school_id", required: false)
        let online = reader.flag("online") ?? false
        if (school != nil) == online && !reader.refusals.contains(where: { ["school_id", "online"].contains($0.field) }) {
            reader.refuse("school_id", "give either school_id or online: true for where the activity took place, not both or neither")
        }
        _ = reader.word("kind", ActivityKind.self)
        let date = reader.date("date")
        _ = reader.count("duration_minutes", minimum: 1, maximum: 1_440)
        _ = reader.word("mode", DeliveryMode.self)
        _ = reader.text("accredited_by", required: false)
        var partners: [String] = []
        if var deliveredBy = reader.object("delivered_by", required: false) {
            _ = deliveredBy.text("team", required: false)
            partners = deliveredBy.identifiers("partners") ?? []
            reader.finish(deliveredBy)
        }
        if var attendance = reader.object("attendance") {
            var total = 0
            if var pupils = attendance.object("pupils", required: false) {
                for stage in KeyStage.allCases { total += pupils.count(stage.rawValue, required: false) ?? 0 }
                attendance.finish(pupils)
            }
            if var staff = attendance.object("staff", required: false) {
                for role in StaffRole.allCases { total += staff.count(role.rawValue, required: false) ?? 0 }
                attendance.finish(staff)
            }
            total += attendance.count("parents_carers", required: false) ?? 0
            if var professionals = attendance.object("professionals", required: false) {
                for kind in PartnerKind.allCases { total += professionals.count(kind.rawValue, required: false) ?? 0 }
                attendance.finish(professionals)
            }
            if total == 0 && attendance.refusals.isEmpty && attendance.unknownFieldRefusals.isEmpty {
                attendance.refuse(
                    "total", "an activity needs at least one attendee: give the counts of pupils, staff, parents or professionals who came")
            }
            reader.finish(attendance)
        }
        guard let pilot, let authority, reader.refusals.isEmpty else { return nil }
        var references = [Reference(.pilot, pilot, field: "pilot_id", authority: authority)]
        if let school { references.append(Reference(.school, school, field: "school_id", authority: authority)) }
        references += partners.map { Reference(.partner, $0, field: "delivered_by.partners") }
        return CheckedRecord(
            streamID: Streams.activities(pilot: pilot, school: school), authorityID: authority, occurredOn: date,
            references: references, rule: .none)
    }
}
