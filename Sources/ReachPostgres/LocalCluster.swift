import Foundation
import Logging

/// A PostgreSQL cluster of Reach's own, in a data directory it owns, reached only through a
/// Unix socket in that directory (no TCP port, so it never collides with another server).
///
/// It uses the machine's PostgreSQL server binaries. PostgreSQL refuses to run as root, so
/// when Reach runs as root the server runs as the unprivileged `postgres` user.
///
/// ```swift
/// let cluster = try LocalCluster(dataDirectory: "/var/lib/reach/postgres")
/// try cluster.start()                     // initialises the directory the first time
/// let admin = cluster.configuration(database: "postgres")
/// ```
public struct LocalCluster: Sendable {
    /// Where the cluster's files (and its socket) live.
    public let dataDirectory: String
    /// The folder with `initdb`, `pg_ctl` and `postgres`.
    public let binDirectory: String
    /// Extra server settings passed at start (`-c name=value`).
    public let settings: [String: String]
    /// The superuser created by `initdb`.
    public static let superuser = "postgres"
    /// The Unix user the server runs as when Reach runs as root.
    public static let serverUserWhenRoot = "postgres"

    /// Finds the server binaries and prepares to manage a cluster in `dataDirectory`.
    ///
    /// Throws ``LocalClusterError`` naming the package to install when PostgreSQL is missing.
    public init(dataDirectory: String, settings: [String: String] = [:], binDirectory: String? = nil) throws {
        // The server's socket lives in the data directory, and Unix socket paths are limited
        // to 107 bytes.
        guard (dataDirectory + "/.s.PGSQL.5432").utf8.count <= 107 else {
            throw LocalClusterError(
                message: """
                    the data directory path is too long for PostgreSQL's socket (at most 92 characters): \
                    \(dataDirectory); set REACH_DATA_DIR to a shorter path
                    """)
        }
        self.dataDirectory = dataDirectory
        self.settings = settings
        guard let bin = binDirectory ?? LocalCluster.findBinaries(),
            FileManager.default.isExecutableFile(atPath: bin + "/pg_ctl"),
            FileManager.default.isExecutableFile(atPath: bin + "/initdb")
        else {
            throw LocalClusterError(
                message: """
                    PostgreSQL's server programs (initdb, pg_ctl) were not found. Install them with \
                    `apt-get install postgresql` (Debian package `postgresql`), or set REACH_PG_BINDIR \
                    to the folder that holds them, or set REACH_DATABASE_URL to use an existing server.
                    """)
        }
        self.binDirectory = bin
    }

    /// The default data directory: `REACH_DATA_DIR`, else `/var/lib/reach/postgres` for root,
    /// else `$XDG_DATA_HOME/reach/postgres` (or `~/.local/share/reach/postgres`).
    public static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["REACH_DATA_DIR"], !dir.isEmpty { return dir }
        if getuid() == 0 { return "/var/lib/reach/postgres" }
        let base =
            environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() + "/.local/share")
        return base + "/reach/postgres"
    }

    public static func findBinaries() -> String? {
        if let dir = ProcessInfo.processInfo.environment["REACH_PG_BINDIR"], !dir.isEmpty { return dir }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = "\(root)/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: bin + "/pg_ctl") { return bin }
        }
        for dir in ["/usr/local/pgsql/bin", "/usr/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/initdb") {
            return dir
        }
        return nil
    }

    /// Whether the directory holds an initialised cluster.
    public var isInitialised: Bool {
        FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION")
    }

    /// A configuration that reaches this cluster's socket as `user`.
    public func configuration(database: String, user: String = LocalCluster.superuser) -> ConnectionConfiguration {
        // Keywords rather than a string, so a path with spaces needs no quoting.
        ConnectionConfiguration("", overrides: ["host": dataDirectory, "port": "5432", "dbname": database, "user": user])
    }

    /// Logins the operating-system user who runs Reach connects as without a password (peer
    /// authentication): the superuser and Reach's own logins. Every other login needs its
    /// password (scram-sha-256).
    public var peerLogins: [String] = [LocalCluster.superuser, "reach"]

    /// Creates the cluster if needed and starts it if it is not running. Safe to call again.
    public func start() throws {
        if !isInitialised { try initialise() }
        if try isRunning() { return }
        // The socket lives in the data directory, so a physical copy of it (pg_basebackup,
        // pgBackRest) brings the socket's lock file along. No server runs on this directory
        // (its own lock file says so), so no server uses that socket: the lock is stale.
        try? FileManager.default.removeItem(atPath: dataDirectory + "/.s.PGSQL.5432.lock")
        try writeAuthentication()
        // pg_ctl hands these options to a shell, so the path is quoted.
        let quoted = "'" + dataDirectory.replacingOccurrences(of: "'", with: "'\\''") + "'"
        var options = "-c listen_addresses='' -k \(quoted) -c unix_socket_permissions=0700"
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) { options += " -c \(name)=\(value)" }
        let result = try runAsServerUser([
            binDirectory + "/pg_ctl", "-D", dataDirectory, "-l", dataDirectory + "/server.log",
            "-w", "-t", "60", "-o", options, "start",
        ])
        guard result.status == 0 else {
            // A second process may have started it between our check and our start.
            if try isRunning() { return }
            let log =
                (try? String(contentsOfFile: dataDirectory + "/server.log", encoding: .utf8))?
                .split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
            throw LocalClusterError(message: "PostgreSQL did not start in \(dataDirectory): \(result.output)\n\(log)")
        }
    }

    /// Makes `dataDirectory` (which must not hold a cluster) a hot standby of `primary`, which
    /// must be running: a base backup taken over its socket with `pg_basebackup -R` (streaming
    /// the WAL written meanwhile, and writing `standby.signal` and `primary_conninfo`), as the
    /// server's user. The standby is not started: ``start()`` starts it, and it then follows the
    /// primary by streaming replication and answers reads. ``promote()`` makes it a primary.
    public static func standby(of primary: LocalCluster, in dataDirectory: String, settings: [String: String] = [:]) throws -> LocalCluster {
        let standby = try LocalCluster(dataDirectory: dataDirectory, settings: settings, binDirectory: primary.binDirectory)
        guard !standby.isInitialised else { throw LocalClusterError(message: "\(dataDirectory) already holds a cluster") }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        if getuid() == 0 { _ = try Self.run(["/bin/chown", Self.serverUserWhenRoot, dataDirectory]) }
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dataDirectory)
        let result = try standby.runAsServerUser([
            primary.binDirectory + "/pg_basebackup", "-D", dataDirectory, "-h", primary.dataDirectory, "-p", "5432",
            "-U", Self.superuser, "-R", "-X", "stream", "-c", "fast", "--no-password",
        ])
        guard result.status == 0 else { throw LocalClusterError(message: "pg_basebackup failed: \(result.output)") }
        return standby
    }

    /// Whether the cluster is a standby (it follows a primary: `standby.signal`), rather than
    /// a primary or a cluster being recovered to a moment and then promoted.
    public var isStandby: Bool {
        FileManager.default.fileExists(atPath: dataDirectory + "/standby.signal")
    }

    /// Promotes a running standby to a primary that accepts writes, and waits until it does.
    public func promote() throws {
        let result = try runAsServerUser([binDirectory + "/pg_ctl", "-D", dataDirectory, "-w", "-t", "60", "promote"])
        guard result.status == 0 else { throw LocalClusterError(message: "the standby could not be promoted: \(result.output)") }
    }

    /// Stops the server (fast shutdown: open sessions are ended, data is safe).
    public func stop(mode: String = "fast") throws {
        guard isInitialised, try isRunning() else { return }
        let result = try runAsServerUser([binDirectory + "/pg_ctl", "-D", dataDirectory, "-m", mode, "-w", "stop"])
        guard result.status == 0 else { throw LocalClusterError(message: "PostgreSQL did not stop: \(result.output)") }
    }

    /// Whether a server is running on this directory. A postmaster killed outright that its
    /// parent has not reaped yet (a zombie, which an init that reaps late leaves for a while)
    /// still has its PID, so pg_ctl takes it for running: it is not, and its lock files are
    /// stale (they are removed, so that the server can start again).
    public func isRunning() throws -> Bool {
        guard isInitialised else { return false }
        guard try runAsServerUser([binDirectory + "/pg_ctl", "-D", dataDirectory, "status"]).status == 0 else { return false }
        if let pid = postmasterPID, Self.isZombie(pid) {
            removeStaleLockFiles(of: pid)
            return false
        }
        return true
    }

    /// The PID the server's lock file names.
    public var postmasterPID: pid_t? {
        (try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8))?.split(separator: "\n").first.flatMap { pid_t($0) }
    }

    /// Whether a process has ended and waits only to be reaped (`Z` in /proc/PID/stat).
    static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: end)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Removes the lock files (the data directory's and the socket's) that name `pid`.
    private func removeStaleLockFiles(of pid: pid_t) {
        for file in [dataDirectory + "/postmaster.pid", dataDirectory + "/.s.PGSQL.5432.lock"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                text.split(separator: "\n").first.flatMap({ pid_t($0) }) == pid
            else { continue }
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    private func initialise() throws {
        let manager = FileManager.default
        if getuid() == 0 {
            // The server runs as another user, which must be able to reach the directory: every
            // existing folder above it must be searchable by others. Rather than loosen
            // someone's folder (such as /root), say what is wrong before creating anything.
            var parent = (dataDirectory as NSString).deletingLastPathComponent
            while parent != "/" && !parent.isEmpty {
                if let attributes = try? manager.attributesOfItem(atPath: parent),
                    let mode = attributes[.posixPermissions] as? Int, mode & 0o001 == 0
                {
                    throw LocalClusterError(
                        message: """
                            PostgreSQL runs as the `\(Self.serverUserWhenRoot)` user when reach runs as root, and it cannot \
                            reach \(dataDirectory) because \(parent) is closed to other users; set REACH_DATA_DIR \
                            to a folder it can reach, such as /var/lib/reach/postgres
                            """)
                }
                parent = (parent as NSString).deletingLastPathComponent
            }
        }
        try manager.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        if getuid() == 0 {
            _ = try Self.run(["/bin/chown", Self.serverUserWhenRoot, dataDirectory])
        }
        try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dataDirectory)
        let result = try runAsServerUser([
            binDirectory + "/initdb", "-D", dataDirectory, "-U", Self.superuser,
            "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-instructions",
        ])
        guard result.status == 0 else {
            throw LocalClusterError(message: "initdb failed in \(dataDirectory): \(result.output)")
        }
    }

    /// Who may connect, written before every start (a cluster made by an older Reach trusted
    /// every local connection): the operating-system user who runs Reach, and the server's
    /// own, as the logins of `peerLogins`, by peer authentication; every login with its
    /// password; nothing over TCP (the server listens on its socket only).
    func writeAuthentication() throws {
        var users = [Self.currentUserName()]
        if getuid() == 0 { users.append(Self.serverUserWhenRoot) }
        let ident =
            "# Written by reach at each start.\n"
            + Set(users).sorted().flatMap { user in
                peerLogins.map { "reach  \(user)  \($0)" }
            }.joined(separator: "\n") + "\n"
        let hba = """
            # Written by reach at each start: the operating-system user who runs Reach connects as
            # the superuser and Reach's own logins (pg_ident.conf, map reach); every login, those too,
            # with its password otherwise.
            local  all  \(peerLogins.joined(separator: ","))  peer  map=reach
            local  all  all  scram-sha-256
            local  replication  \(Self.superuser)  peer  map=reach

            """
        for (name, text) in [("pg_ident.conf", ident), ("pg_hba.conf", hba)] {
            let path = dataDirectory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw LocalClusterError(message: "cannot write \(path)")
            }
            if getuid() == 0 { _ = try Self.run(["/bin/chown", Self.serverUserWhenRoot, path]) }
        }
    }

    static func currentUserName() -> String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }

    private func runAsServerUser(_ arguments: [String]) throws -> (status: Int32, output: String) {
        if getuid() == 0 {
            guard getpwnam(Self.serverUserWhenRoot) != nil else {
                throw LocalClusterError(
                    message: """
                        PostgreSQL refuses to run as root and there is no `\(Self.serverUserWhenRoot)` user to run it as; \
                        install the Debian package `postgresql`, which creates it.
                        """)
            }
            return try Self.run(["/usr/sbin/runuser", "-u", Self.serverUserWhenRoot, "--"] + arguments)
        }
        return try Self.run(arguments)
    }

    /// Runs a program and collects its combined output. Uses `posix_spawn` directly: the
    /// output pipe is close-on-exec in this process, so no other child (such as the server
    /// that `pg_ctl` starts) can inherit it and keep it open.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw LocalClusterError(message: "cannot create a pipe: errno \(errno)") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            throw LocalClusterError(message: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &buffer, buffer.count)
            if count > 0 {
                output.append(contentsOf: buffer[0..<count])
                continue
            }
            if count < 0 && errno == EINTR { continue }
            break
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitCode, String(decoding: output, as: UTF8.self).trimmingTrailingNewlines())
    }
}

/// A failure to find, create, start or stop the local cluster, in words an operator can act on.
public struct LocalClusterError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
