extension RecordType {
    public static let schoolAssessmentCompleted = RecordType(
        "school_assessment_completed",
        example:
            #"{"referral_id":"northvale-ref-1","la_id":"northvale","school_id":"900001","date":"2025-03-20","methods":["focus_groups","surveys"],"domains":{"pupil_development_needs":{"strengths":"peer support","concerns":"online conflict","rating":2},"guardianship_capacity":{"strengths":"DSL team","concerns":"lunchtime cover","rating":3},"environmental_and_family_factors":{"strengths":"youth club","concerns":"bus route","rating":2}},"young_people_took_part":true,"parents_took_part":false}"#
    ) { reader, _ in
        let about = aboutReferral(&reader)
        let school = reader.identifier("school_id")
        _ = reader.words("methods", AssessmentMethod.self)
        if var domains = reader.object("domains") {
            for domain in AssessmentDomain.allCases {
                guard var one = domains.object(domain.rawValue) else { continue }
                _ = one.text("strengths", required: false)
                _ = one.text("concerns", required: false)
                _ = one.count("rating", minimum: 1, maximum: 4)
                domains.finish(one)
            }
            reader.finish(domains)
        }
        _ = reader.flag("young_people_took_part", required: true)
        _ = reader.flag("parents_took_part", required: true)
        guard let about, let school, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.referral.stream(about.referral), authorityID: about.authority, occurredOn: about.date,
            references: [
                Reference(.referral, about.referral, field: "referral_id", authority: about.authority),
                Reference(.school, school, field: "school_id", authority: about.authority),
            ],
            rule: .none)
    }
}
