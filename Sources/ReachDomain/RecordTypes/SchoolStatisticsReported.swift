import ReachCalendar

extension RecordType {
    public static let schoolStatisticsReported = RecordType(
        "school_statistics_reported",
        example:
            #"{"school_id":"900001","la_id":"northvale","academic_year":"2023/24","suspensions":41,"permanent_exclusions":2,"pupils_on_roll":1010,"attendance_percent":91.4}"#
    ) { reader, _ in
        let school = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        var year: AcademicYear?
        if let text = reader.text("academic_year", maxLength: 7) {
            year = AcademicYear(text)
            if year == nil { reader.refuse("academic_year", "'\(text)' is not an academic year such as 2024/25") }
        }
        _ = reader.count("suspensions")
        _ = reader.count("permanent_exclusions")
        _ = reader.count("pupils_on_roll", maximum: 10_000)
        _ = reader.number("attendance_percent", in: 0...100)
        guard let school, let authority, let year, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: "school-statistics:\(school):\(year.startYear)", authorityID: authority,
            occurredOn: CalendarDate(year: year.startYear + 1, month: 8, day: 31),
            references: [Reference(.school, school, field: "school_id", authority: authority)],
            rule: .register(what: "the statistics of school \(school) for \(year)", field: "academic_year"))
    }
}
