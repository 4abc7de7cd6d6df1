import ReachCalendar
import ReachEventLog

/// Collects the JSON Schema (2020-12) of a record type's data while the type's own checks read
/// its example: every rule that reads a field (``FieldReader``) describes it, so the schema is
/// made by the same code that checks records and cannot drift from it. Fields read only for
/// some values of others are described when the example takes that path; the checks stay the
/// authority (they also refuse fields no rule reads, and rules across fields and records).
final class SchemaDescriber {
    final class Node {
        var schema: JSONObject
        var required: Bool
        var children: [(key: String, node: Node)] = []
        init(schema: JSONObject, required: Bool) {
            self.schema = schema
            self.required = required
        }
    }

    let root = Node(schema: ["type": "object"], required: true)

    /// Describes the field at `path` (dotted; a number is a place in a list).
    func field(_ path: String, _ schema: JSONObject, required: Bool) {
        var node = root
        let segments = path.split(separator: ".").map(String.init)
        for (index, segment) in segments.enumerated() {
            let key = Int(segment) != nil ? "[]" : segment
            let last = index == segments.count - 1
            if let found = node.children.first(where: { $0.key == key })?.node {
                if last {
                    found.schema = schema
                    found.required = found.required || required
                }
                node = found
            } else {
                let child = Node(schema: last ? schema : ["type": "object"], required: last && required)
                node.children.append((key, child))
                node = child
            }
        }
    }

    /// The schema of `node` and what is below it.
    func schema(_ node: Node) -> JSONValue {
        var out = node.schema
        let properties = node.children.filter { $0.key != "[]" }
        if !properties.isEmpty {
            out["properties"] = .object(JSONObject(properties.map { ($0.key, schema($0.node)) }))
            let required = properties.filter(\.node.required).map { JSONValue.string($0.key) }
            if !required.isEmpty { out["required"] = .array(required) }
        }
        if let items = node.children.first(where: { $0.key == "[]" })?.node { out["items"] = schema(items) }
        return .object(out)
    }
}

extension RecordType {
    /// The JSON Schema of a record of this type (`{"type", "id", "data"}`), its data described
    /// by the type's own checks as they read the type's example (see ``SchemaDescriber``).
    public var jsonSchema: JSONValue {
        let describer = SchemaDescriber()
        if case .object(let example) = (try? JSONValue.parse(self.example)) ?? .null {
            var reader = FieldReader(example, today: CalendarDate.today)
            reader.describer = describer
            _ = check(&reader, "example-1")
        }
        var data = describer.schema(describer.root)
        if case .object(var fields) = data {
            fields["description"] = "Fields no rule reads are refused; rules across fields and records apply too (see the catalogue's example)."
            data = .object(fields)
        }
        return .object([
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": .string(name),
            "type": "object",
            "required": .array(["type", "id", "data"]),
            "properties": .object([
                "type": .object(["const": .string(name)]),
                "id": .object([
                    "type": "string", "minLength": 1, "maxLength": 100,
                    "description": "The sender's id for the record: sending it again changes nothing.",
                ]),
                "data": data,
            ]),
        ])
    }
}

/// A field of a record type's data as its checks read it, in the order they read it: what a
/// form for the type is made from (`reach serve`'s record pages), so that the form asks for
/// exactly what the checks read.
public struct FieldDescription: Sendable {
    /// The field's key; `[]` for the items of a list of objects.
    public var key: String
    /// Its JSON Schema keywords of its own (`type`, `enum`, `format`, `minimum`...).
    public var schema: JSONObject
    public var required: Bool
    /// The fields inside it (an object's, or a list's items'), in the order they are read.
    public var children: [FieldDescription]
}

extension SchemaDescriber.Node {
    var description: [FieldDescription] {
        children.map { FieldDescription(key: $0.key, schema: $0.node.schema, required: $0.node.required, children: $0.node.description) }
    }
}

extension RecordType {
    /// The data's fields, in the order the type's checks read them as they read its example.
    public var fieldDescriptions: [FieldDescription] {
        let describer = SchemaDescriber()
        if case .object(let example) = (try? JSONValue.parse(self.example)) ?? .null {
            var reader = FieldReader(example, today: CalendarDate.today)
            reader.describer = describer
            _ = check(&reader, "example-1")
        }
        return describer.root.description
    }
}
