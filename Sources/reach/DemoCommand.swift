import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine
import ReachDomain
import ReachIngest

/// `reach demo`: a synthetic data set, so a new user sees the product working.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a realistic, synthetic, deterministic data set into the database.",
        discussion: """
            About 30 authorities and 400 schools over the academic years 2022/23 to 2025/26, mostly \
            activities, with the situations of the programme's case studies in it (a CS-restorative \
            practice pilot in 11 schools rolled out to a further 20; a location of concern handled \
            through peer group conferences; a school referred to a context panel through to \
            de-escalation; surveys; corrections). Every name is invented. The same --seed always \
            gives the same data, and loading it again appends nothing.
            """
    )
    @OptionGroup var database: DatabaseOptions

    @Option(help: "The seed: the same seed gives the same data set.")
    var seed: UInt64 = 1
    @Option(help: "About how many events to make (100,000 by default; up to 10,000,000 or more for benchmarks).")
    var events = 100_000

    func validate() throws {
        guard events >= 5_000 else { throw ValidationError("--events must be at least 5,000") }
    }

    func run() async throws {
        let app = try await database.application()
        let onTerminal = isatty(STDERR_FILENO) == 1
        let clock = ContinuousClock()
        let start = clock.now
        let events = self.events
        let summary: DemoLoader.Summary
        do {
            summary = try await app.loadDemo(seed: seed, events: events, as: try await app.identify(actor: actorName(nil))) { done in
                guard onTerminal else { return }
                let width = 30
                let filled = min(width, width * done / max(1, events))
                FileHandle.standardError.write(
                    Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done) events".utf8))
            }
        } catch let refusals as Refusals {
            throw CommandError(refusals.all.map(\.reason).joined(separator: "; "))
        }
        if onTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        emit(
            "demo data set, seed \(seed): \(summary.total) events (\(summary.appended) appended, \(summary.alreadyPresent) already present) in \(String(format: "%.1f", seconds)) s"
        )
        for (type, count) in summary.byType.sorted(by: { $0.value > $1.value }) {
            emit("  \(pad(String(count), 9, right: true))  \(type)")
        }
    }
}
