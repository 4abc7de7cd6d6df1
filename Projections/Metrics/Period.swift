import ReachCalendar
import ReachDomain
import ReachPostgres

/// A period that figures are computed for: the dates of activities (not of data entry) from
/// `start` to `end`, both included.
///
/// Written as the programme writes them:
/// - academic year `2024/25` (1 September 2024 - 31 August 2025)
/// - financial year `FY2024/25` (1 April 2024 - 31 March 2025)
/// - calendar quarter `2024-Q3` (1 July - 30 September 2024)
/// - month `2024-09`
/// - a range of dates `2024-09-01..2025-08-31`
/// - the strategy period `2024-2029` (academic years 2024/25 to 2028/29)
public struct Period: Sendable, Hashable, CustomStringConvertible {
    public var label: String
    public var start: CalendarDate
    public var end: CalendarDate

    public var description: String { label }

    public init(label: String, start: CalendarDate, end: CalendarDate) {
        self.label = label
        self.start = start
        self.end = end
    }

    /// Whether the period is made of whole calendar months (so monthly roll-ups answer for it).
    public var isWholeMonths: Bool {
        start.day == 1 && end.day == CalendarDate.daysIn(month: end.month, year: end.year)
    }

    /// The academic year that starts in September of `year` (`2024/25`).
    public static func academicYear(_ year: Int) -> Period {
        Period(
            label: AcademicYear(startYear: year).description,
            start: CalendarDate(year: year, month: 9, day: 1), end: CalendarDate(year: year + 1, month: 8, day: 31))
    }

    /// The financial year that starts in April of `year` (`FY2024/25`).
    public static func financialYear(_ year: Int) -> Period {
        Period(
            label: "FY\(AcademicYear(startYear: year))",
            start: CalendarDate(year: year, month: 4, day: 1), end: CalendarDate(year: year + 1, month: 3, day: 31))
    }

    /// A quarter of a calendar year (`2024-Q3`).
    public static func quarter(_ year: Int, _ quarter: Int) -> Period {
        let firstMonth = (quarter - 1) * 3 + 1
        return Period(
            label: "\(year)-Q\(quarter)", start: CalendarDate(year: year, month: firstMonth, day: 1),
            end: CalendarDate(year: year, month: firstMonth + 2, day: CalendarDate.daysIn(month: firstMonth + 2, year: year)))
    }

    /// A calendar month (`2024-09`).
    public static func month(_ year: Int, _ month: Int) -> Period {
        Period(
            label: "\(year)-\(month < 10 ? "0" : "")\(month)", start: CalendarDate(year: year, month: month, day: 1),
            end: CalendarDate(year: year, month: month, day: CalendarDate.daysIn(month: month, year: year)))
    }

    /// The academic years of the 2024-2029 strategy.
    public static let strategyYears = (2024...2028).map(academicYear)

    /// Reads a period, or says what is wrong with it.
    public static func parse(_ text: String) -> Result<Period, PeriodError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func int(_ s: Substring) -> Int? { s.allSatisfy(\.isNumber) ? Int(s) : nil }
        if trimmed == "2024-2029" {
            return .success(
                Period(label: trimmed, start: CalendarDate(year: 2024, month: 9, day: 1), end: CalendarDate(year: 2029, month: 8, day: 31)))
        }
        if let range = trimmed.range(of: "..") {
            guard let start = CalendarDate(iso: String(trimmed[..<range.lowerBound])),
                let end = CalendarDate(iso: String(trimmed[range.upperBound...]))
            else {
                return .failure(PeriodError(text, "a range is two dates, such as 2024-09-01..2025-08-31"))
            }
            guard start <= end else { return .failure(PeriodError(text, "the range ends before it starts")) }
            return .success(Period(label: trimmed, start: start, end: end))
        }
        let financial = trimmed.hasPrefix("FY")
        let body = financial ? trimmed.dropFirst(2) : Substring(trimmed)
        let slash = body.split(separator: "/", omittingEmptySubsequences: false)
        if slash.count == 2, slash[0].count == 4, slash[1].count == 2, let year = int(slash[0]), let next = int(slash[1]) {
            guard (year + 1) % 100 == next else {
                return .failure(PeriodError(text, "a year such as 2024/25 names two consecutive years"))
            }
            return .success(financial ? financialYear(year) : academicYear(year))
        }
        let dash = trimmed.split(separator: "-", omittingEmptySubsequences: false)
        if !financial, dash.count == 2, dash[0].count == 4, let year = int(dash[0]) {
            if dash[1].count == 2, dash[1].first == "Q", let quarter = int(dash[1].dropFirst()), (1...4).contains(quarter) {
                return .success(Self.quarter(year, quarter))
            }
            if dash[1].count == 2, let month = int(dash[1]), (1...12).contains(month) {
                return .success(Self.month(year, month))
            }
        }
        return .failure(
            PeriodError(
                text,
                "write an academic year (2024/25), a financial year (FY2024/25), a quarter (2024-Q3), a month (2024-09), a range (2024-09-01..2025-08-31) or the strategy period (2024-2029)"
            ))
    }
}

/// A period that could not be read.
public struct PeriodError: Error, CustomStringConvertible {
    public var text: String
    public var reason: String
    init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }
    public var description: String { "period '\(text)' is not one Reach knows: \(reason)" }
}
