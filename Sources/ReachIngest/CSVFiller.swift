import ReachDomain
import ReachEventLog

extension CSVLayout {
    /// Turns the rows of one file into records' data, with the objects to make worked out once
    /// from the file's header: empty cells are left out, numbers and flags are read as such when
    /// they can be (otherwise kept as text, for the checks to name), lists split on `;`. Each
    /// object's fields are made in jsonb's order of keys, so nothing is sorted or moved per row.
    public struct Filler: Sendable {
        /// One field of an object: its key, and the cells that fill it (a column given twice:
        /// the last one not empty wins) or the object it is. All plain values, kept in flat
        /// lists: the rows of a file, read on several threads at once, share them, and values
        /// that count references would have every thread count on the same objects.
        struct Step: Sendable {
            var key: Int
            var kind: Kind
            var cells: Range<Int>
            /// The object the field is (an index into `objects`), or nil for a cell.
            var object: Int?
        }

        let keys: [String]
        /// Each object's fields, in jsonb's order, as a range of `steps`; the record's own is first.
        let objects: [Range<Int>]
        let steps: [Step]
        /// The cells of every field, as ranges of this list.
        let cells: [Int]

        /// The filler of a file whose columns are `columns` (nil for columns it ignores).
        public init(columns: [Column?]) {
            // Paths to the cells that fill them, then the tree of objects along the paths.
            final class Tree {
                var children: [String: Tree] = [:]
                var cells: [Int] = []
                var kind: Kind = .text
            }
            let top = Tree()
            for (index, column) in columns.enumerated() {
                guard let column else { continue }
                var tree = top
                for key in column.path {
                    if tree.children[key] == nil { tree.children[key] = Tree() }
                    tree = tree.children[key]!
                }
                tree.cells.append(index)
                tree.kind = column.kind
            }
            var keys: [String] = []
            var objects: [Range<Int>] = []
            var steps: [Step] = []
            var cells: [Int] = []
            func object(_ tree: Tree) -> Int {
                objects.append(0..<0)
                let made = objects.count - 1
                var fields: [Step] = []
                for key in tree.children.keys.sorted(by: JSONObject.precedes) {
                    let child = tree.children[key]!
                    keys.append(key)
                    if child.children.isEmpty {
                        cells += child.cells
                        fields.append(Step(key: keys.count - 1, kind: child.kind, cells: cells.count - child.cells.count..<cells.count, object: nil))
                    } else {
                        fields.append(Step(key: keys.count - 1, kind: .text, cells: 0..<0, object: object(child)))
                    }
                }
                objects[made] = steps.count..<steps.count + fields.count
                steps += fields
                return made
            }
            _ = object(top)
            (self.keys, self.objects, self.steps, self.cells) = (keys, objects, steps, cells)
        }

        /// A row's data.
        public func data(of row: [String]) -> JSONObject {
            object(0, row) ?? JSONObject()
        }

        /// Object `index` of `row`, or nil when all its cells are empty.
        private func object(_ index: Int, _ row: [String]) -> JSONObject? {
            var fields: [JSONObject.Field] = []
            for place in objects[index] {
                let step = steps[place]
                let value: JSONValue?
                if let child = step.object {
                    value = object(child, row).map(JSONValue.object)
                } else {
                    value = self.value(step.cells, step.kind, row)
                }
                guard let value else { continue }
                if fields.isEmpty { fields.reserveCapacity(objects[index].count) }
                fields.append(JSONObject.Field(key: keys[step.key], value: value))
            }
            return fields.isEmpty ? nil : JSONObject(ordered: fields)
        }

        /// The value of the last of the cells at `places` of `cells` that is not empty.
        private func value(_ places: Range<Int>, _ kind: Kind, _ row: [String]) -> JSONValue? {
            for place in places.reversed() {
                let index = cells[place]
                guard index < row.count, !row[index].isEmpty else { continue }
                let cell = FieldReader.trimmed(row[index])
                guard !cell.isEmpty else { continue }
                switch kind {
                case .text: return .string(cell)
                case .number: return CSVLayout.number(cell)
                case .flag:
                    switch cell.lowercased() {
                    case "true", "yes", "y", "1": return .bool(true)
                    case "false", "no", "n", "0": return .bool(false)
                    default: return .string(cell)
                    }
                case .textList:
                    return .array(cell.split(separator: ";").map { .string(FieldReader.trimmed(String($0))) })
                case .numberList:
                    return .array(
                        cell.split(separator: ";").map { part in
                            let text = FieldReader.trimmed(String(part))
                            return CSVLayout.number(text)
                        })
                }
            }
            return nil
        }
    }
}
