import Foundation
import ReachDomain
import ReachEventLog

/// A form for a record type, made from the catalogue's description of the type's fields (the
/// fields its checks read, in the order they read them): vocabularies become choices, dates
/// and numbers text fields, an object of counts (attendance by audience and sub-group) a grid,
/// a list of objects (a plan's actions) repeated rows, and a list of words or ids one per line.
/// What is typed is turned into the record's data and checked by the catalogue's own rules; no
/// rule is written here.
struct RecordForm {
    indirect enum Node {
        case field(Field)
        /// An object: its fields, shown together (as a grid when all are counts).
        case group(key: String, required: Bool, children: [Node], grid: Bool)
        /// A list of objects: one set of the item's fields per row.
        case rows(key: String, required: Bool, item: [Node])
    }

    struct Field {
        enum Kind {
            case text, integer, number, date, flag, json
            case choice([String])
            /// Several words of a vocabulary.
            case choices([String])
            /// A list of values, one per line.
            case list(numeric: Bool)
        }
        var key: String
        var kind: Kind
        var required: Bool
        var hint: String?
    }

    let type: String
    let nodes: [Node]

    init(type: RecordType) {
        self.type = type.name
        self.nodes = Self.nodes(type.fieldDescriptions)
    }

    init(type: String, nodes: [Node]) {
        self.type = type
        self.nodes = nodes
    }

    // MARK: From the catalogue

    static func nodes(_ fields: [FieldDescription]) -> [Node] {
        fields.filter { $0.key != "[]" }.map { node($0, siblings: fields) }
    }

    static func node(_ description: FieldDescription, siblings: [FieldDescription]) -> Node {
        let schema = description.schema
        let field = { (kind: Field.Kind, hint: String?) in
            Node.field(Field(key: description.key, kind: kind, required: description.required, hint: hint))
        }
        switch schema["type"]?.stringValue {
        case "object":
            var children = description.children
            // An object the example leaves empty takes the fields of a sibling of its kind
            // (every survey measure has the same two counts).
            if children.isEmpty,
                let twin = siblings.first(where: {
                    $0.schema["type"] == "object" && !$0.children.isEmpty && $0.children.allSatisfy(\.children.isEmpty)
                })
            {
                children = twin.children
            }
            guard !children.isEmpty else { return field(.json, "Written as JSON, for example {\"name\": \"value\"}") }
            let grid = children.allSatisfy { $0.schema["type"] == "integer" }
            return .group(key: description.key, required: description.required, children: nodes(children), grid: grid)
        case "array":
            if let item = description.children.first(where: { $0.key == "[]" }), !item.children.isEmpty {
                return .rows(key: description.key, required: description.required, item: nodes(item.children))
            }
            if case .object(let items)? = schema["items"] {
                if case .array(let words)? = items["enum"] { return field(.choices(words.compactMap(\.stringValue)), nil) }
                if items["type"] == "integer" { return field(.list(numeric: true), "One number on each line") }
                if items["type"] == "string" { return field(.list(numeric: false), "One on each line") }
            }
            return field(.json, "Written as a JSON list, for example [{\"name\": \"value\"}]")
        case "integer": return field(.integer, range(schema))
        case "number": return field(.number, range(schema))
        case "boolean": return field(.flag, nil)
        default:
            if case .array(let words)? = schema["enum"] { return field(.choice(words.compactMap(\.stringValue)), nil) }
            if schema["format"] == "date" {
                let rule = schema["description"]?.stringValue.map { $0.replacingOccurrences(of: "YYYY-MM-DD, ", with: "") } ?? ""
                return field(.date, "For example, 2025-03-04" + (rule.isEmpty ? "" : " (\(rule))"))
            }
            if schema["pattern"] != nil { return field(.text, "Letters, digits, - and _ only") }
            return field(.text, nil)
        }
    }

    static func range(_ schema: JSONObject) -> String? {
        guard case .number(let low)? = schema["minimum"], case .number(let high)? = schema["maximum"] else { return nil }
        let shown = { (value: Double) in value == value.rounded() ? String(Int(value)) : String(value) }
        return high >= 1_000_000 ? "\(shown(low)) or more" : "From \(shown(low)) to \(shown(high))"
    }

    // MARK: Into a record

    /// The record's data from a submitted form's values (by field name), leaving out what was
    /// left blank. A value that is not of its field's kind is kept as text, for the catalogue's
    /// rules to refuse in their own words.
    func data(from values: [String: [String]]) -> JSONObject {
        Self.collect(nodes, prefix: "", values)
    }

    static func collect(_ nodes: [Node], prefix: String, _ values: [String: [String]]) -> JSONObject {
        var out = JSONObject()
        for node in nodes {
            switch node {
            case .field(let field):
                if let value = value(field, values[prefix + field.key] ?? []) { out[field.key] = value }
            case .group(let key, _, let children, _):
                let inner = collect(children, prefix: prefix + key + ".", values)
                if !inner.isEmpty { out[key] = .object(inner) }
            case .rows(let key, _, let item):
                var list: [JSONValue] = []
                for row in 0..<rowCount(prefix + key, values) {
                    let inner = collect(item, prefix: "\(prefix)\(key).\(row).", values)
                    if !inner.isEmpty { list.append(.object(inner)) }
                }
                if !list.isEmpty { out[key] = .array(list) }
            }
        }
        return out
    }

    static func value(_ field: Field, _ typed: [String]) -> JSONValue? {
        let text = (typed.first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        switch field.kind {
        case .choices:
            let words = typed.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return words.isEmpty ? nil : .array(words.map { .string($0) })
        case .list(let numeric):
            let items = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !items.isEmpty else { return nil }
            return .array(items.map { item in numeric ? Double(item).map(JSONValue.number) ?? .string(item) : .string(item) })
        default:
            break
        }
        guard !text.isEmpty else { return nil }
        switch field.kind {
        case .integer, .number: return Double(text).map(JSONValue.number) ?? .string(text)
        case .flag: return text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(text)
        case .json: return (try? JSONValue.parse(text)) ?? .string(text)
        default: return .string(text)
        }
    }

    /// The most rows of a list a form holds (a plan's actions, say); values for rows beyond
    /// it are not read.
    static let maximumRows = 100

    /// How many rows of a list the values hold (one past the highest row with a value, at
    /// most ``maximumRows``).
    static func rowCount(_ name: String, _ values: [String: [String]]) -> Int {
        let prefix = name + "."
        var count = 0
        for key in values.keys where key.hasPrefix(prefix) {
            if let row = Int(key.dropFirst(prefix.count).prefix(while: { $0 != "." })), row >= 0, row < maximumRows {
                count = max(count, row + 1)
            }
        }
        return count
    }

    // MARK: From a record

    /// A record's data as the form's values, to correct it.
    func values(of data: JSONObject) -> [String: [String]] {
        var out: [String: [String]] = [:]
        Self.flatten(nodes, data, prefix: "", into: &out)
        return out
    }

    static func flatten(_ nodes: [Node], _ data: JSONObject, prefix: String, into out: inout [String: [String]]) {
        for node in nodes {
            switch node {
            case .field(let field):
                guard let value = data[field.key] else { continue }
                out[prefix + field.key] = typed(value, field.kind)
            case .group(let key, _, let children, _):
                if case .object(let inner)? = data[key] { flatten(children, inner, prefix: prefix + key + ".", into: &out) }
            case .rows(let key, _, let item):
                guard case .array(let list)? = data[key] else { continue }
                for (row, element) in list.enumerated() {
                    if case .object(let inner) = element { flatten(item, inner, prefix: "\(prefix)\(key).\(row).", into: &out) }
                }
            }
        }
    }

    static func typed(_ value: JSONValue, _ kind: Field.Kind) -> [String] {
        switch (value, kind) {
        case (.array(let items), .choices): return items.compactMap(\.stringValue)
        case (.array(let items), .list): return [items.map { $0.stringValue ?? $0.text }.joined(separator: "\n")]
        case (.string(let text), _): return [text]
        case (.bool(let flag), _): return [flag ? "true" : "false"]
        default: return [value.text]
        }
    }
}

extension JSONValue {
    /// The text of a string value.
    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}

// MARK: Drawing

extension RecordForm {
    /// The form's parts in order, for the template: each a dictionary holding every key the
    /// template asks for (`open`, `close`, `field`, `add`), so that none is looked up in the page
    /// (a checkbox's option takes its `name` from its field on purpose).
    /// `errors` are the refusals by field name; each is shown at its field, or at the nearest
    /// group holding it, and taken out of `errors` (what is left belongs to no field).
    func parts(values: [String: [String]], errors: inout [String: String], extraRows: Set<String> = []) -> [[String: Any]] {
        var parts: [[String: Any]] = []
        Self.draw(nodes, prefix: "", values: values, errors: &errors, extraRows: extraRows, into: &parts)
        return parts
    }

    static func part(open: Any = false, close: Bool = false, field: Any = false, add: Any = false) -> [String: Any] {
        ["open": open, "close": close, "field": field, "add": add]
    }

    static func draw(
        _ nodes: [Node], prefix: String, values: [String: [String]], errors: inout [String: String],
        extraRows: Set<String>, into parts: inout [[String: Any]]
    ) {
        for node in nodes {
            switch node {
            case .field(let field):
                let name = prefix + field.key
                parts.append(part(field: fieldPart(field, name: name, values: values[name] ?? [], error: errors.removeValue(forKey: name))))
            case .group(let key, let required, let children, let grid):
                let name = prefix + key
                var inner: [[String: Any]] = []
                draw(children, prefix: name + ".", values: values, errors: &errors, extraRows: extraRows, into: &inner)
                if grid { inner = gridCells(inner) }
                // An error about the group, or about a field of it the form does not show.
                let error = groupError(name, &errors)
                parts.append(
                    part(open: [
                        "id": id(name), "legend": label(key) + (required ? "" : " (optional)"), "grid": grid,
                        "hint": grid ? "Counts of people, 0 or more. Leave blank what does not apply." : false, "error": RecordForm.orFalse(error),
                    ]))
                parts += inner
                parts.append(part(close: true))
            case .rows(let key, let required, let item):
                let name = prefix + key
                var inner: [[String: Any]] = []
                let count = min(maximumRows, max(1, rowCount(name, values) + (extraRows.contains(name) ? 1 : 0)))
                for row in 0..<count {
                    let rowName = "\(name).\(row)"
                    var fields: [[String: Any]] = []
                    draw(item, prefix: rowName + ".", values: values, errors: &errors, extraRows: extraRows, into: &fields)
                    let error = groupError(rowName, &errors)
                    inner.append(
                        part(open: [
                            "id": id(rowName), "legend": "\(singular(label(key))) \(row + 1)", "grid": false,
                            "hint": false, "error": RecordForm.orFalse(error),
                        ]))
                    inner += fields
                    inner.append(part(close: true))
                }
                let error = groupError(name, &errors)
                parts.append(
                    part(open: [
                        "id": id(name), "legend": label(key) + (required ? "" : " (optional)"), "grid": false,
                        "hint": "Leave a row blank to leave it out.", "error": RecordForm.orFalse(error),
                    ]))
                parts += inner
                parts.append(part(add: ["name": name, "label": "Add another \(singular(label(key)).lowercased())"]))
                parts.append(part(close: true))
            }
        }
    }

    /// A grid's counts share the group's hint: each is labelled by its name alone.
    static func gridCells(_ parts: [[String: Any]]) -> [[String: Any]] {
        parts.map { part in
            guard var field = part["field"] as? [String: Any], let id = field["id"] as? String else { return part }
            field["hint"] = false
            field["required"] = true
            field["describedby"] = field["error"] is String ? "\(id)-error" : false
            return Self.part(field: field)
        }
    }

    /// The refusals about `name` or anything under it that no field took, joined.
    static func groupError(_ name: String, _ errors: inout [String: String]) -> String? {
        let keys = errors.keys.filter { $0 == name || $0.hasPrefix(name + ".") }.sorted()
        guard !keys.isEmpty else { return nil }
        defer { for key in keys { errors.removeValue(forKey: key) } }
        return keys.map { errors[$0]! }.joined(separator: ". ")
    }

    /// A refusal's field in plain words: `attendance.pupils.ks3` is "Pupils KS3", and
    /// `actions.0.due_on` "Action 1 due on".
    static func describe(_ path: String) -> String {
        var words: [String] = []
        for segment in path.split(separator: ".") {
            if let row = Int(segment), let last = words.popLast() {
                words.append("\(singular(last)) \(row + 1)")
            } else {
                words.append(label(String(segment)))
            }
        }
        let shown = words.suffix(2)
        return shown.enumerated().map { index, word in
            index == 0
                ? word : word.split(separator: " ").map { capitals.contains($0.lowercased()) ? String($0) : $0.lowercased() }.joined(separator: " ")
        }.joined(separator: " ").capitalizedFirst
    }

    static func fieldPart(_ field: Field, name: String, values: [String], error: String?) -> [String: Any] {
        let value = values.first ?? ""
        let described = [field.hint.map { _ in id(name) + "-hint" }, error.map { _ in id(name) + "-error" }].compactMap { $0 }
        var part: [String: Any] = [
            "id": id(name), "name": name, "label": label(field.key), "required": field.required,
            "hint": RecordForm.orFalse(field.hint), "error": RecordForm.orFalse(error), "value": value,
            "describedby": described.isEmpty ? false : described.joined(separator: " "),
            "select": false, "input": false, "textarea": false, "checkboxes": false, "options": [], "numeric": false, "rows": 3,
        ]
        switch field.kind {
        case .choice(let words):
            part["select"] = true
            part["options"] =
                [["value": "", "label": "Choose one", "selected": value.isEmpty, "id": ""]]
                + words.map { ["value": $0, "label": label($0), "selected": $0 == value, "id": ""] as [String: Any] }
                + (value.isEmpty || words.contains(value) ? [] : [["value": value, "label": value, "selected": true, "id": ""]])
        case .flag:
            part["select"] = true
            part["options"] = [
                ["value": "", "label": "Choose one", "selected": value.isEmpty, "id": ""],
                ["value": "true", "label": "Yes", "selected": value == "true", "id": ""],
                ["value": "false", "label": "No", "selected": value == "false", "id": ""],
            ]
        case .choices(let words):
            part["checkboxes"] = true
            part["options"] = words.enumerated().map { index, word in
                ["value": word, "label": label(word), "selected": values.contains(word), "id": index == 0 ? id(name) : id(name) + "-\(index)"]
                    as [String: Any]
            }
        case .list, .json:
            part["textarea"] = true
            part["rows"] = max(3, value.split(separator: "\n").count + 1)
        case .integer, .number:
            part["input"] = true
            part["numeric"] = true
        case .text, .date:
            part["input"] = true
        }
        return part
    }

    /// A value for a template, or `false` where there is none (so that the template does not
    /// look the name up in the page around it).
    static func orFalse(_ value: String?) -> Any {
        if let value { return value }
        return false
    }

    /// A field's id in the page: `f-` and its name, dots as dashes.
    static func id(_ name: String) -> String { "f-" + name.replacingOccurrences(of: ".", with: "-") }

    static let capitals: Set<String> = ["id", "dsl", "vcse", "efh", "pru", "ks1", "ks2", "ks3", "ks4", "ks5", "gss", "urn", "sen", "send", "fy"]

    /// A key or word in plain words: `duration_minutes` is "Duration minutes", `la_id` "LA ID".
    static func label(_ key: String) -> String {
        let words = key.split(separator: "_").map { word in
            word == "la" ? "local authority" : capitals.contains(String(word)) ? word.uppercased() : String(word)
        }
        return words.joined(separator: " ").capitalizedFirst
    }

    static func singular(_ text: String) -> String {
        text.hasSuffix("ies") ? String(text.dropLast(3)) + "y" : text.hasSuffix("s") ? String(text.dropLast()) : text
    }
}
