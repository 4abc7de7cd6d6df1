extension RecordType {
    public static let beyondReferralsSelfAssessmentCompleted = RecordType(
        "beyond_referrals_self_assessment_completed",
        example:
            #"{"school_id":"900001","la_id":"northvale","referral_id":"northvale-ref-1","date":"2025-03-01","ratings":{"structures_and_systems":"amber","prevention":"green","identification_and_response":"amber","intervention":"red"}}"#
    ) { reader, recordID in
        let school = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        let referral = reader.identifier("referral_id", required: false)
        let date = reader.date("date")
        if var ratings = reader.object("ratings") {
            for area in SelfAssessmentArea.allCases { _ = ratings.word(area.rawValue, RAGRating.self) }
            reader.finish(ratings)
        }
        guard let school, let authority, reader.refusals.isEmpty else { return nil }
        var references = [Reference(.school, school, field: "school_id", authority: authority)]
        if let referral { references.append(Reference(.referral, referral, field: "referral_id", authority: authority)) }
        return CheckedRecord(
            streamID: "beyond-referrals:\(recordID)", authorityID: authority, occurredOn: date,
            references: references, rule: .none)
    }
}
