import Foundation
import Hummingbird
import ReachApp
import ReachDomain
import ReachEventLog

/// The web app's recording pages (staff, and admins): a form for each record type made from the
/// catalogue, the list of recent records, and a record's correction and withdrawal. Each
/// record goes through ``ReachApplication/record(_:source:as:)``, as the API's do, and is
/// checked by the catalogue's rules alone; a refused one comes back with every refusal at its
/// field and what was typed kept.
extension WebPages {
    /// The types recorded through other pages (corrections and withdrawals, from the list of
    /// recent records) or by Reach itself (an export's record).
    static let typesNotOnForms: Set<String> = ["event_corrected", "event_withdrawn"]

    /// The pages of WebRecording, each handler a named method (see `addRoutes`).
    struct RecordingPages {
        let app: ReachApplication

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/record", use: recordTypes)
            pages.get("/record/:type", use: newRecord)
            pages.post("/record/:type", use: record)
            pages.get("/records", use: records)
            pages.get("/records/:id/correct", use: correctionForm)
            pages.post("/records/:id/correct", use: correct)
            pages.get("/records/:id/withdraw", use: withdrawalForm)
            pages.post("/records/:id/withdraw", use: withdraw)
        }

        @Sendable func recordTypes(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            try ReachApplication.authorize(.record, as: identity)
            let types = RecordType.recordable.keys.filter { !typesNotOnForms.contains($0) }.sorted()
                .map { ["name": $0, "label": RecordForm.label($0)] }
            return page("record-types", title: "Record what happened", status: .ok, identity: identity, csrf: csrf, ["types": types])
        }

        @Sendable func newRecord(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let name = try context.parameters.require("type")
            let (type, form) = try recordForm(name, identity)
            var values: [String: [String]] = [:]
            // The one authority a staff member records for is filled in.
            if identity.authorities.count == 1, type.fieldDescriptions.contains(where: { $0.key == "la_id" }) {
                values["la_id"] = [identity.authorities.first!]
            }
            return formPage(
                form, identity: identity, csrf: csrf, values: values, refusals: [], status: .ok,
                recordID: newRecordID(), heading: RecordForm.label(type.name))
        }

        @Sendable func record(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let values = try await WebPages.readForm(request, context, limit: 1024 * 1024)
            let name = try context.parameters.require("type")
            let (type, form) = try recordForm(name, identity)
            let recordID = values["record_id"]?.first.flatMap { $0.isEmpty ? nil : $0 } ?? newRecordID()
            if let more = values["add_row"]?.first {
                return formPage(
                    form, identity: identity, csrf: csrf, values: values, refusals: [], status: .ok, recordID: recordID,
                    heading: RecordForm.label(type.name), extraRows: [more])
            }
            let record = JSONValue.object(["type": .string(type.name), "id": .string(recordID), "data": .object(form.data(from: values))])
            let result = try await app.record(record, source: "web", as: identity)
            guard result.isRefused else { return redirect("/records?recorded=\(percentEncoded(recordID))") }
            return formPage(
                form, identity: identity, csrf: csrf, values: values, refusals: result.refusals ?? [],
                status: .unprocessableContent, recordID: recordID, heading: RecordForm.label(type.name))
        }

        @Sendable func records(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let limit = 50
            let records = try await app.recentRecords(limit: limit, as: identity)
            var values: [String: Any] = [
                "limit": limit, "has_records": !records.isEmpty,
                "scope": identity.role == .admin ? "every authority" : identity.authorities.sorted().joined(separator: ", "),
                "records": records.map { record -> [String: Any] in
                    [
                        "recorded_at": record.recordedAt, "type": RecordForm.label(record.type), "authority": record.authority ?? "",
                        "occurred_on": record.occurredOn ?? "", "id": record.recordID, "path": percentEncoded(record.recordID),
                        "status": record.status, "amendable": record.amendable,
                    ]
                },
            ]
            let query = request.uri.queryParameters
            if let id = query["recorded"] {
                values["notice"] = ["heading": "Recorded", "detail": "Record \(id) is in the log. Its figures follow within seconds."]
            } else if let id = query["corrected"] {
                values["notice"] = ["heading": "Corrected", "detail": "The correction of record \(id) is in the log."]
            } else if let id = query["withdrawn"] {
                values["notice"] = ["heading": "Withdrawn", "detail": "Record \(id) is withdrawn; it no longer counts in any figure."]
            }
            return page("records", title: "Recent records", status: .ok, identity: identity, csrf: csrf, values)
        }

        @Sendable func correctionForm(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let id = try recordIDParameter(context)
            let (record, form) = try await amendable(app, id, identity)
            return correctionPage(
                form, record: record, identity: identity, csrf: csrf, values: form.values(of: record.data),
                refusals: [], status: .ok, recordID: newRecordID())
        }

        @Sendable func correct(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let values = try await WebPages.readForm(request, context, limit: 1024 * 1024)
            let id = try recordIDParameter(context)
            let (record, form) = try await amendable(app, id, identity)
            let recordID = values["record_id"]?.first.flatMap { $0.isEmpty ? nil : $0 } ?? newRecordID()
            if let more = values["add_row"]?.first {
                return correctionPage(
                    form, record: record, identity: identity, csrf: csrf, values: values, refusals: [], status: .ok,
                    recordID: recordID, extraRows: [more])
            }
            var data: JSONObject = ["record_id": .string(record.recordID), "data": .object(form.data(from: values))]
            if let reason = values[correctionReason]?.first?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty {
                data["reason"] = .string(reason)
            }
            let correction = JSONValue.object(["type": "event_corrected", "id": .string(recordID), "data": .object(data)])
            let result = try await app.record(correction, source: "web", as: identity)
            guard result.isRefused else { return redirect("/records?corrected=\(percentEncoded(record.recordID))") }
            // The correction's own fields, and the corrected data's (under `data.`), at their fields.
            let refusals = (result.refusals ?? []).map { refusal -> Refusal in
                if refusal.field == "reason" { return Refusal(correctionReason, refusal.reason) }
                if refusal.field.hasPrefix("data.") { return Refusal(String(refusal.field.dropFirst(5)), refusal.reason) }
                return refusal
            }
            return correctionPage(
                form, record: record, identity: identity, csrf: csrf, values: values, refusals: refusals,
                status: .unprocessableContent, recordID: recordID)
        }

        @Sendable func withdrawalForm(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let id = try recordIDParameter(context)
            let (record, _) = try await amendable(app, id, identity)
            return withdrawalPage(record, identity: identity, csrf: csrf, values: [:], refusals: [], status: .ok, recordID: newRecordID())
        }

        @Sendable func withdraw(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let values = try await WebPages.readForm(request, context, limit: 64 * 1024)
            let id = try recordIDParameter(context)
            let (record, _) = try await amendable(app, id, identity)
            let recordID = values["record_id"]?.first.flatMap { $0.isEmpty ? nil : $0 } ?? newRecordID()
            var data: JSONObject = ["record_id": .string(record.recordID)]
            if let reason = values["reason"]?.first?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty {
                data["reason"] = .string(reason)
            }
            let withdrawal = JSONValue.object(["type": "event_withdrawn", "id": .string(recordID), "data": .object(data)])
            let result = try await app.record(withdrawal, source: "web", as: identity)
            guard result.isRefused else { return redirect("/records?withdrawn=\(percentEncoded(record.recordID))") }
            return withdrawalPage(
                record, identity: identity, csrf: csrf, values: values, refusals: result.refusals ?? [],
                status: .unprocessableContent, recordID: recordID)
        }
    }

    /// The record id in a page's path, percent-decoded.
    static func recordIDParameter(_ context: ReachRequestContext) throws -> String {
        let raw = try context.parameters.require("id")
        return raw.removingPercentEncoding ?? raw
    }

    /// The name of a correction's reason among the corrected record's fields.
    static let correctionReason = "correction_reason"

    static func recordForm(_ name: String, _ identity: Identity) throws -> (RecordType, RecordForm) {
        try ReachApplication.authorize(.record, as: identity)
        guard let type = RecordType.recordable[name], !typesNotOnForms.contains(name) else {
            throw NotFound("there is no form for '\(name.prefix(60))'; choose one on the page Record what happened")
        }
        return (type, RecordForm(type: type))
    }

    /// A record of the asker's that may be corrected or withdrawn, and the form of its type.
    static func amendable(_ app: ReachApplication, _ id: String, _ identity: Identity) async throws -> (RecentRecord, RecordForm) {
        let record = try await app.recentRecord(id: id, as: identity)
        guard let type = RecordType.all[record.type], record.amendable else {
            throw RequestError(
                record.status == "withdrawn"
                    ? "record \(record.recordID) was withdrawn; it cannot be changed again"
                    : "a \(RecordForm.label(record.type).lowercased()) cannot be corrected or withdrawn")
        }
        return (record, RecordForm(type: type))
    }

    /// A new id for a record made on a page: kept in the form, so that sending it twice
    /// (a double click, a reload) records it once.
    static func newRecordID() -> String { "web-" + ReachApplication.newSecret().prefix(16).lowercased().filter { $0.isLetter || $0.isNumber } }

    /// A record form with the values typed so far and the refusals at their fields.
    static func formPage(
        _ form: RecordForm, identity: Identity, csrf: String, values: [String: [String]], refusals: [Refusal],
        status: HTTPResponse.Status, recordID: String, heading: String, extraRows: Set<String> = [],
        action: String? = nil, caption: String = "Record", intro: String? = nil, submit: String = "Record",
        leading: [[String: Any]] = [], back: String = "/record"
    ) -> Response {
        var errors: [String: String] = [:]
        var summary: [[String: Any]] = []
        for refusal in refusals {
            let message = (refusal.field == "record" ? "This record" : RecordForm.describe(refusal.field)) + " " + refusal.reason
            errors[refusal.field] = errors[refusal.field].map { $0 + ". " + message } ?? message
        }
        var remaining = errors
        var parts = leading.map { part -> [String: Any] in
            guard var field = part["field"] as? [String: Any], let name = field["name"] as? String, let error = remaining.removeValue(forKey: name)
            else { return part }
            field["error"] = error
            field["describedby"] = ((field["hint"] as? String) != nil ? "\(RecordForm.id(name))-hint " : "") + "\(RecordForm.id(name))-error"
            return RecordForm.part(field: field)
        }
        parts += form.parts(values: values, errors: &remaining, extraRows: extraRows)
        for refusal in refusals {
            let message = (refusal.field == "record" ? "This record" : RecordForm.describe(refusal.field)) + " " + refusal.reason
            // Each refusal links to its field, or to the nearest group holding it, or to the form.
            var target = refusal.field
            while !target.isEmpty, !parts.contains(where: { anchor($0) == RecordForm.id(target) }) {
                target = target.contains(".") ? String(target[..<target.lastIndex(of: ".")!]) : ""
            }
            summary.append(["id": target.isEmpty ? "record-form" : RecordForm.id(target), "message": message])
        }
        if !remaining.isEmpty {
            parts.insert(
                RecordForm.part(open: [
                    "id": "record-errors", "legend": "The record as a whole", "grid": false, "hint": false,
                    "error": remaining.values.sorted().joined(separator: ". "),
                ]), at: 0)
            parts.insert(RecordForm.part(close: true), at: 1)
        }
        return page(
            "record-form", title: (refusals.isEmpty ? "" : "Error: ") + heading, status: status, identity: identity, csrf: csrf,
            [
                "heading": heading, "caption": caption, "intro": RecordForm.orFalse(intro), "submit": submit, "warning": submit.hasPrefix("Withdraw"),
                "action": action ?? "/record/\(form.type)", "record_id": recordID, "parts": parts, "back": back,
                "errors": summary, "has_errors": !summary.isEmpty,
            ])
    }

    /// The id a part of a form is reached by (a field's, or a group's).
    static func anchor(_ part: [String: Any]) -> String? {
        (part["field"] as? [String: Any])?["id"] as? String ?? (part["open"] as? [String: Any])?["id"] as? String
    }

    static func correctionPage(
        _ form: RecordForm, record: RecentRecord, identity: Identity, csrf: String, values: [String: [String]],
        refusals: [Refusal], status: HTTPResponse.Status, recordID: String, extraRows: Set<String> = []
    ) -> Response {
        let reason = RecordForm.Field(key: correctionReason, kind: .text, required: true, hint: "What was wrong, in a few words (no one's name)")
        var field = RecordForm.fieldPart(reason, name: correctionReason, values: values[correctionReason] ?? [], error: nil)
        field["label"] = "Why it is corrected"
        return formPage(
            form, identity: identity, csrf: csrf, values: values, refusals: refusals, status: status, recordID: recordID,
            heading: "Correct record \(record.recordID)", extraRows: extraRows,
            action: "/records/\(percentEncoded(record.recordID))/correct", caption: RecordForm.label(record.type),
            intro: "Change what was wrong and send the whole record. The original stays in the log; the correction replaces it in every figure.",
            submit: "Send the correction", leading: [RecordForm.part(field: field)], back: "/records")
    }

    static func withdrawalPage(
        _ record: RecentRecord, identity: Identity, csrf: String, values: [String: [String]],
        refusals: [Refusal], status: HTTPResponse.Status, recordID: String
    ) -> Response {
        let reason = RecordForm.Field(key: "reason", kind: .text, required: true, hint: "For example: recorded twice (no one's name)")
        var field = RecordForm.fieldPart(reason, name: "reason", values: values["reason"] ?? [], error: nil)
        field["label"] = "Why it is withdrawn"
        return formPage(
            RecordForm(type: record.type, nodes: []), identity: identity, csrf: csrf, values: values, refusals: refusals,
            status: status, recordID: recordID, heading: "Withdraw record \(record.recordID)",
            action: "/records/\(percentEncoded(record.recordID))/withdraw", caption: RecordForm.label(record.type),
            intro: "A withdrawn record stays in the log but no longer counts in any figure. It cannot be corrected afterwards.",
            submit: "Withdraw the record", leading: [RecordForm.part(field: field)], back: "/records")
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? ""
    }

    /// An `application/x-www-form-urlencoded` body's fields, each with all its values.
    static func parseFormValues(_ body: ByteBuffer) -> [String: [String]] {
        var fields: [String: [String]] = [:]
        for pair in String(decoding: body.readableBytesView, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String { String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            fields[decoded(parts[0]), default: []].append(parts.count > 1 ? decoded(parts[1]) : "")
        }
        return fields
    }
}
