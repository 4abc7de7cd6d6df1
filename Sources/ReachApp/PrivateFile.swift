import Foundation

/// Files that hold programme data (an authority's summary, the refused rows of an import):
/// readable and writable by their owner only, whatever the process's umask.
public enum PrivateFile {
    /// A new directory of mode 0700 under the system's temporary directory (`mkdtemp`), for
    /// files made on the way to an answer (a spreadsheet, a PDF): no one else can list or open
    /// what is in it. The caller removes it.
    public static func temporaryDirectory(prefix: String) throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-XXXXXX").path).utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: FileManager.default.temporaryDirectory.path])
        }
        return String(cString: made)
    }

    /// Makes an empty file of mode 0600 at `path` (which must not exist), for a library that
    /// then writes it by name.
    public static func create(_ path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        close(descriptor)
    }

    /// Writes `text` to `path` whole: to a file of mode 0600 beside it, then renamed over it, so
    /// a reader never sees half a file and no one else can read it at any moment.
    public static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        do {
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
