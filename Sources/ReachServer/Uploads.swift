import Foundation
import Hummingbird
import ReachApp

/// Uploads kept on disk as they arrive, never held whole in memory: the API's file bodies and
/// the web app's multipart forms.
enum Uploads {
    /// A new directory of an upload's own under `root`, readable by this user only.
    static func directory(in root: String) throws -> String {
        let directory = (root as NSString).appendingPathComponent(UUID().uuidString.lowercased())
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return directory
    }

    /// Streams `body` into a new file at `path` (0600); its size, or nil when it is larger
    /// than `maximum` (what was written is left for the caller's directory to be removed with).
    static func store(_ body: RequestBody, at path: String, maximum: Int) async throws -> Int? {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw RequestError("the upload could not be stored; try again")
        }
        defer { try? handle.close() }
        var bytes = 0
        for try await buffer in body {
            bytes += buffer.readableBytes
            guard bytes <= maximum else { return nil }
            try handle.write(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    /// A `multipart/form-data` body stored at `path`: its text fields, and its one file part
    /// written to `directory` under the name `name(filename)` gives (nil when no file was chosen).
    /// The stored body is read through a memory map, so the file is copied, never held whole.
    static func multipart(
        at path: String, boundary: String, fileTo directory: String,
        name: (String) throws -> String
    ) throws -> (fields: [String: String], file: (path: String, name: String, bytes: Int)?) {
        let body = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        let delimiter = Data(("--" + boundary).utf8)
        let crlf = Data("\r\n".utf8)
        let headerEnd = Data("\r\n\r\n".utf8)
        var fields: [String: String] = [:]
        var file: (path: String, name: String, bytes: Int)?
        guard var cursor = body.range(of: delimiter)?.upperBound else { throw RequestError("the form's body is not multipart/form-data") }
        let next = Data("\r\n--".utf8) + Data(boundary.utf8)
        while cursor + 2 <= body.endIndex, body[cursor..<cursor + 2] != Data("--".utf8) {
            // Each part: CRLF, its header lines, an empty line, its content, then CRLF and the
            // delimiter. (A part with no header lines has an empty header block.)
            guard body[cursor..<min(cursor + 2, body.endIndex)] == crlf,
                let headers = body.range(of: headerEnd, in: cursor..<body.endIndex),
                let end = body.range(of: next, in: headers.upperBound..<body.endIndex)
            else {
                throw RequestError("the form's body is cut short; send the form again")
            }
            let head = headers.lowerBound >= cursor + 2 ? String(decoding: body[(cursor + 2)..<headers.lowerBound], as: UTF8.self) : ""
            let content = headers.upperBound..<end.lowerBound
            let disposition = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-disposition:") }.map(String.init) ?? ""
            if let field = parameter("name", in: disposition) {
                if let filename = parameter("filename", in: disposition) {
                    if !filename.isEmpty, file == nil {
                        let stored = try name((filename as NSString).lastPathComponent)
                        let target = (directory as NSString).appendingPathComponent(stored)
                        guard FileManager.default.createFile(atPath: target, contents: nil, attributes: [.posixPermissions: 0o600]),
                            let handle = FileHandle(forWritingAtPath: target)
                        else { throw RequestError("the upload could not be stored; try again") }
                        defer { try? handle.close() }
                        var start = content.lowerBound
                        while start < content.upperBound {
                            let stop = min(start + 1 << 20, content.upperBound)
                            try handle.write(contentsOf: body[start..<stop])
                            start = stop
                        }
                        file = (target, stored, content.count)
                    }
                } else if content.count <= 64 * 1024 {
                    fields[field] = String(decoding: body[content], as: UTF8.self)
                }
            }
            cursor = end.upperBound
        }
        return (fields, file)
    }

    /// A parameter of a header's value (`name="file"`), unquoted.
    static func parameter(_ key: String, in header: String) -> String? {
        for part in header.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.replacingOccurrences(of: "\\\"", with: "\"")
        }
        return nil
    }

    /// The boundary of a `multipart/form-data` content type.
    static func boundary(_ contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        return parameter("boundary", in: contentType).flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 }
    }
}
