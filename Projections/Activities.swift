import ReachDomain

extension Projection {
    /// Activities delivered and their attendance, behind `sessions`, `attendances`,
    /// `staff_trained`, `learner_hours`, `schools_engaged`, `authorities_active` and
    /// `partners_involved`. SQL: `SQL/activities.sql`.
    public static let activities = Projection(
        name: "activities", eventTypes: ["activity_delivered"], tables: ["activities"])
}

/// One attendance count of an activity: an audience and a sub-group, and its column.
public struct AttendanceCell: Sendable, Hashable {
    public var audience: String
    public var subgroup: String
    /// The column of `research.activities` (and of the projection table) that holds it.
    public var column: String { audience == subgroup ? audience : "\(audience)_\(subgroup)" }

    /// Every cell the vocabulary allows: pupils by key stage, staff by role, parents and carers,
    /// and professionals by agency.
    public static let all: [AttendanceCell] =
        KeyStage.allCases.map { AttendanceCell(audience: "pupils", subgroup: $0.rawValue) }
        + StaffRole.allCases.map { AttendanceCell(audience: "staff", subgroup: $0.rawValue) }
        + [AttendanceCell(audience: "parents_carers", subgroup: "parents_carers")]
        + PartnerKind.allCases.map { AttendanceCell(audience: "professionals", subgroup: $0.rawValue) }

    /// The audiences, in order.
    public static let audiences = ["pupils", "staff", "parents_carers", "professionals"]

    /// The SQL the activities projection's file refers to by `{attendance_...}`.
    static var placeholders: [String: String] {
        let grouped = ["pupils", "staff", "professionals"]
        return [
            "{attendance_columns}": all.map { "\($0.column) integer NOT NULL" }.joined(separator: ", "),
            "{attendance_column_names}": all.map(\.column).joined(separator: ", "),
            "{attendance_records}": grouped.map { audience in
                "jsonb_to_record(coalesce(src.data #> '{attendance,\(audience)}', '{}')) AS \(audience)("
                    + all.filter { $0.audience == audience }.map { "\($0.subgroup) integer" }.joined(separator: ", ") + ")"
            }.joined(separator: ", "),
            "{attendance_values}": all.map(value).joined(separator: ", "),
            "{attendance_total}": all.map(value).joined(separator: " + "),
            "{rollup_columns}": (all.map { "\($0.column) bigint NOT NULL" } + audiences.map { "minutes_\($0) bigint NOT NULL" }).joined(
                separator: ", "),
            "{rollup_column_names}": (all.map(\.column) + audiences.map { "minutes_\($0)" }).joined(separator: ", "),
            "{rollup_sums}":
                (all.map { "%3$s * sum(\($0.column))" }
                + audiences.map { audience in
                    "%3$s * sum(duration_minutes * (" + all.filter { $0.audience == audience }.map(\.column).joined(separator: " + ") + "))"
                })
                .joined(separator: ", "),
            "{rollup_sums_plain}":
                (all.map { "sum(\($0.column))" }
                + audiences.map { audience in
                    "sum(duration_minutes * (" + all.filter { $0.audience == audience }.map(\.column).joined(separator: " + ") + "))"
                })
                .joined(separator: ", "),
            "{rollup_updates}": (all.map(\.column) + audiences.map { "minutes_\($0)" }).map { "\($0) = m.\($0) + excluded.\($0)" }.joined(
                separator: ", "),
            "{attendance_unpivot}": all.map { "('\($0.audience)', '\($0.subgroup)', a.\($0.column))" }.joined(separator: ", "),
        ]
    }

    private static func value(_ cell: AttendanceCell) -> String {
        cell.audience == "parents_carers"
            ? "coalesce((src.data #>> '{attendance,parents_carers}')::integer, 0)"
            : "coalesce(\(cell.audience).\(cell.subgroup), 0)"
    }
}
