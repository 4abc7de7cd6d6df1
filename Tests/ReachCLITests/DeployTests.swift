import Foundation
import ReachTestSupport
import Testing

/// What `Deploy/` gives an operator, checked where it cannot be run: the systemd unit's exposure
/// by `systemd-analyze security --offline=yes`, and the Kubernetes manifests, compose file and
/// Containerfile by `Tests/Deploy/check_manifests.py`.
@Suite("deployment files")
struct DeployTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("the systemd unit of reach serve is hardened: systemd-analyze rates its exposure 2.0 or below")
    func systemdUnit() throws {
        let unit = Self.root + "/Deploy/systemd/reach.service"
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        for setting in [
            "DynamicUser=yes", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
            "SystemCallFilter=@system-service", "UMask=0077", "ExecStart=/usr/local/bin/reach serve",
        ] {
            #expect(text.contains(setting), "the unit lacks \(setting)")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else { return }
        let (status, output) = try Programs.run("/usr/bin/systemd-analyze", ["security", "--offline=yes", unit])
        let exposure = output.range(of: #"Overall exposure level for reach\.service: [0-9.]+"#, options: .regularExpression)
            .flatMap { Double(output[$0].split(separator: " ").last ?? "") }
        #expect(status == 0 && exposure != nil, "\(output.suffix(400))")
        #expect((exposure ?? 10) <= 2.0, "exposure \(exposure ?? -1)")
    }

    @Test("the Kubernetes manifests, the compose file and the Containerfile pass the offline checks")
    func manifests() throws {
        let venv = Self.root + "/.build/pytools/bin/python"
        let python = FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
        let (status, output) = try Programs.run(python, [Self.root + "/Tests/Deploy/check_manifests.py", Self.root + "/Deploy"])
        #expect(status == 0 && output.contains("[]"), "\(output.suffix(2000))")
    }
}
