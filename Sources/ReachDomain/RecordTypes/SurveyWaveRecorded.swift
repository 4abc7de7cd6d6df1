import ReachEventLog

extension RecordType {
    public static let surveyWaveRecorded = RecordType(
        "survey_wave_recorded",
        example:
            #"{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","respondent_group":"pupils","wave":"baseline","date":"2024-10-10","respondents":120,"measures":{"feel_safe_in_school":{"agreeing":70,"answering":110},"trusted_adult_in_school":{"agreeing":61,"answering":112}}}"#,
        csv: .rows(alsoColumns: [
            // Every measure gets a column, not only those in the example.
            "measures": .object(
                JSONObject(
                    SurveyMeasure.allCases.map {
                        ($0.rawValue, JSONValue.object(["agreeing": .number(0), "answering": .number(0)]))
                    }))
        ])
    ) { reader, recordID in
        let pilot = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        let school = reader.identifier("school_id", required: false)
        let group = reader.word("respondent_group", RespondentGroup.self)
        if let wave = reader.text("wave", maxLength: 20), SurveyWave(wave) == nil {
            reader.refuse("wave", "'\(wave)' is not a wave; write baseline, follow_up_1, follow_up_2 ...")
        }
        let date = reader.date("date")
        let respondents = reader.count("respondents", minimum: 1)
        if var measures = reader.object("measures") {
            for measure in SurveyMeasure.allCases {
                guard var answers = measures.object(measure.rawValue, required: false) else { continue }
                if let group, measure.group != group {
                    measures.refuse(measure.rawValue, "is asked of \(measure.group.rawValue), not of \(group.rawValue)")
                }
                let agreeing = answers.count("agreeing")
                let answering = answers.count("answering")
                if let agreeing, let answering, agreeing > answering {
                    answers.refuse("agreeing", "is \(agreeing), more than the \(answering) who answered")
                }
                if let answering, let respondents, answering > respondents {
                    answers.refuse("answering", "is \(answering), more than the \(respondents) respondents")
                }
                measures.finish(answers)
            }
            if measures.refusals.isEmpty && measures.unknownFieldRefusals.isEmpty && measures.fields.isEmpty {
                measures.refuse("measures", "give at least one measure with the numbers agreeing and answering")
            }
            reader.finish(measures)
        }
        for var place in reader.objects("unsafe_places") ?? [] {
            _ = place.text("label", maxLength: 100)
            _ = place.count("mentions", minimum: 1)
            reader.finish(place)
        }
        guard let pilot, let authority, reader.refusals.isEmpty else { return nil }
        var references = [Reference(.pilot, pilot, field: "pilot_id", authority: authority)]
        if let school { references.append(Reference(.school, school, field: "school_id", authority: authority)) }
        return CheckedRecord(
            streamID: Streams.surveys(pilot: pilot, school: school), authorityID: authority, occurredOn: date,
            references: references, rule: .none)
    }
}
