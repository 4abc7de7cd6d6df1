import ReachEventLog

/// Brings data written under an older schema version of a record type up to the current one, so
/// that events recorded years ago (and records sent by older spreadsheets) still read correctly.
///
/// Each step is a pure function from version n to n + 1; the log itself is never rewritten.
public enum Upcaster {
    /// One step: the type, the version it reads, and how it reads it.
    struct Step: Sendable {
        var type: String
        var from: Int32
        var upcast: @Sendable (JSONObject) -> JSONObject
    }

    static let steps: [Step] = [
        // activity_delivered 1 -> 2: `virtual: true/false` became `mode: in_person | virtual`,
        // so that further modes (such as hybrid) can be added as words.
        Step(type: "activity_delivered", from: 1) { data in
            var data = data
            if case .bool(let virtual)? = data.removeValue(forKey: "virtual") {
                data["mode"] = .string(virtual ? DeliveryMode.virtual.rawValue : DeliveryMode.inPerson.rawValue)
            }
            return data
        },
    ]

    /// The data of `type` written at `version`, as the current version of the type reads it.
    /// Returns `nil` for a version newer than this program knows.
    public static func upcast(type: String, version: Int32, data: JSONObject) -> JSONObject? {
        let current = RecordType.all[type]?.schemaVersion ?? 1
        guard version <= current, version >= 1 else { return nil }
        var data = data
        var version = version
        while version < current {
            if let step = steps.first(where: { $0.type == type && $0.from == version }) { data = step.upcast(data) }
            version += 1
        }
        return data
    }

    /// An event's data as the current version of its type reads it.
    public static func currentData(of event: RecordedEvent) throws -> JSONObject {
        guard case .object(let fields) = try JSONValue.parse(event.data),
              let data = upcast(type: event.type, version: event.schemaVersion, data: fields) else {
            throw Refusals([Refusal("schema_version", "event at position \(event.position) is \(event.type) version \(event.schemaVersion), which this program cannot read")])
        }
        return data
    }
}
