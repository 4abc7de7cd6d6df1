import Foundation
import ReachPostgres
import ReachTestSupport
import Testing

@Suite("local cluster")
struct LocalClusterTests {
    @Test("without PostgreSQL's server programs, it names the package to install")
    func missingBinaries() throws {
        let error = #expect(throws: LocalClusterError.self) {
            _ = try LocalCluster(dataDirectory: "/tmp/reach-never", binDirectory: "/nonexistent/postgresql/bin")
        }
        #expect(error?.message.contains("apt-get install postgresql") == true)
    }

    @Test("a data directory too long for a Unix socket is refused with the reason")
    func tooLongPath() {
        let error = #expect(throws: LocalClusterError.self) {
            _ = try LocalCluster(dataDirectory: "/tmp/" + String(repeating: "d", count: 100))
        }
        #expect(error?.message.contains("REACH_DATA_DIR") == true)
    }

    @Test("the shared test cluster runs on a socket in its own directory and answers queries")
    func runsOnItsSocket() throws {
        let cluster = TestCluster.shared
        #expect(try cluster.isRunning())
        #expect(FileManager.default.fileExists(atPath: cluster.dataDirectory + "/.s.PGSQL.5432"))
        let connection = try Connection(configuration: cluster.configuration(database: "postgres"))
        #expect(try connection.query("SELECT current_setting('listen_addresses')").decode(String.self, row: 0, column: 0) == "")
        // Starting again reuses the running server.
        try cluster.start()
        #expect(connection.isHealthy)
    }

    @Test("a new cluster is created, started, stopped and restarted with its data")
    func lifecycle() throws {
        let directory = "/tmp/reach lifecycle \(getpid())-\(UUID().uuidString.prefix(6))" // a space, on purpose
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try LocalCluster(dataDirectory: directory + "/data", settings: ["fsync": "off"])
        #expect(!cluster.isInitialised)
        try cluster.start()
        #expect(try cluster.isRunning())
        try Connection(configuration: cluster.configuration(database: "postgres")).executeScript(
            "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        try cluster.stop()
        #expect(try !cluster.isRunning())
        try cluster.start()
        let connection = try Connection(configuration: cluster.configuration(database: "postgres"))
        #expect(try connection.query("SELECT n FROM kept").decode(Int.self, row: 0, column: 0) == 7)
        try cluster.stop(mode: "immediate")
    }

    @Test("local connections authenticate: the user who runs Reach by peer, every other login by its password")
    func authentication() throws {
        let cluster = TestCluster.shared
        let owner = try Connection(configuration: cluster.configuration(database: "postgres"))
        let login = "auth_tester_\(UUID().uuidString.prefix(8).lowercased())"
        try owner.executeScript("CREATE ROLE \(login) LOGIN PASSWORD 'right-one'")
        defer { try? owner.executeScript("DROP ROLE IF EXISTS \(login)") }
        let base = cluster.configuration(database: "postgres", user: login)
        // A login with its password gets in; with a wrong one, or none, it does not.
        #expect(
            try Connection(configuration: base.overriding(["password": "right-one"])).query("SELECT current_user").decode(
                String.self, row: 0, column: 0) == login)
        for wrong in [["password": "wrong-one"], [:]] {
            let error = #expect(throws: PostgresError.self) { _ = try Connection(configuration: base.overriding(wrong)) }
            #expect(error.map { "\($0)".contains("right-one") || "\($0)".contains("wrong-one") } == false, "the error shows no password")
        }
        // Nobody gets in as the superuser by naming it, but the operating-system user who runs Reach.
        let hba = try String(contentsOfFile: cluster.dataDirectory + "/pg_hba.conf", encoding: .utf8)
        #expect(!hba.contains("trust"))
        #expect(hba.contains("scram-sha-256"))
    }
}
