// swift-tools-version:6.1
import PackageDescription

/// Strict settings for every Swift target: Swift 6 language mode (complete concurrency
/// checking) and explicit `any` for existentials.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "Reach",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "reach", targets: ["reach"]),
        .library(name: "ReachPostgres", targets: ["ReachPostgres"]),
        .library(name: "ReachEventLog", targets: ["ReachEventLog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // The system C library, found through pkg-config.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // OpenSSL's SHA-256 (libcrypto, which libpq-dev already brings), for the bulk append's hash chain.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // libxlsxwriter (Debian's libxlsxwriter-dev), for an authority's summary as a spreadsheet.
        .systemLibrary(
            name: "CXlsxWriter",
            pkgConfig: "xlsxwriter",
            providers: [.apt(["libxlsxwriter-dev"])]
        ),
        // The calendar: days (`CalendarDate`), the domain's own date type, below every layer.
        .target(
            name: "ReachCalendar",
            swiftSettings: strict
        ),
        // A small, safe Swift API over libpq, and the local cluster manager.
        .target(
            name: "ReachPostgres",
            dependencies: [
                "CLibPQ",
                "ReachCalendar",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The numbered SQL migrations, shipped as resources of a target of their own.
        .target(
            name: "ReachMigrations",
            path: "Migrations",
            exclude: ["README.md"],
            resources: [.copy("sql")],
            swiftSettings: strict
        ),
        // The event log: append, read, subscribe, verify, migrate.
        .target(
            name: "ReachEventLog",
            dependencies: [
                "ReachPostgres",
                "ReachCalendar",
                "ReachMigrations",
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The programme's domain: the record catalogue, its checks, and what recording decides.
        // It reads and writes nothing: no database here.
        .target(
            name: "ReachDomain",
            dependencies: ["ReachEventLog", "ReachCalendar", .product(name: "CSV", package: "CSV.swift")],
            swiftSettings: strict
        ),
        // The write path: the one way records reach the log (RecordWriter: check, ask the log,
        // decide, append), importing files (CSV and JSON Lines reading, the import pipeline:
        // chunks read and checked ahead while the one before is judged and appended in bulk)
        // and the demo loader, so that the domain reads as rules.
        .target(
            name: "ReachIngest",
            dependencies: ["ReachDomain", "ReachEventLog", "ReachPostgres", "ReachCalendar", .product(name: "CSV", package: "CSV.swift")],
            swiftSettings: strict
        ),
        // The read side: the projection engine and one file per projection, next to its SQL.
        .target(
            name: "ReachProjections",
            dependencies: [
                "ReachPostgres",
                "ReachCalendar",
                "ReachEventLog",
                "ReachDomain",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Projections",
            exclude: ["README.md"],
            resources: [.copy("SQL"), .copy("Migrations")],
            swiftSettings: strict
        ),
        // The use cases: each capability one function that takes an identity, with every access
        // decision in one file (Access.swift). The command line (and later the HTTP service)
        // parse, call and print.
        .target(
            name: "ReachApp",
            dependencies: [
                "ReachPostgres",
                "ReachEventLog",
                "ReachDomain",
                "ReachIngest",
                "ReachProjections",
                "CXlsxWriter",
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            exclude: ["Resources/README.md", "Migrations/README.md"],
            // The list of common and breached passwords no account may have (Resources/README.md),
            // and the application's own migrations (Migrations/README.md).
            resources: [.copy("Resources/common-passwords.txt"), .copy("Migrations")],
            swiftSettings: strict
        ),
        // The HTTP service: routes that authenticate, call the application layer and answer
        // in JSON, CSV or problem+json; nothing else.
        .target(
            name: "ReachServer",
            dependencies: [
                "ReachApp",
                "ReachDomain",
                "ReachPostgres",
                "ReachProjections",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/web")],
            swiftSettings: strict
        ),
        // What every command shares: the database options, logging, and printing.
        .target(
            name: "ReachCommandLine",
            dependencies: [
                "ReachApp",
                "ReachEventLog",
                "ReachPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The benchmarks (`reach bench ...`): Reach against raw libpq on the same server.
        .target(
            name: "ReachBenchmarks",
            dependencies: [
                "ReachCommandLine",
                "ReachApp",
                "ReachServer",
                "ReachPostgres",
                "ReachEventLog",
                "ReachDomain",
                "ReachIngest",
                "ReachProjections",
                "ReachCalendar",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The command-line tool.
        .executableTarget(
            name: "reach",
            dependencies: [
                "ReachCommandLine",
                "ReachBenchmarks",
                "ReachApp",
                "ReachServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                "ReachPostgres",
                "ReachEventLog",
                "ReachDomain",
                "ReachIngest",
                "ReachProjections",
                "ReachCalendar",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ReachTestSupport",
            dependencies: ["ReachPostgres", "ReachEventLog", "ReachProjections", "ReachApp"],
            path: "Tests/ReachTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachPostgresTests",
            dependencies: ["ReachPostgres", "ReachCalendar", "ReachTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachDomainTests",
            dependencies: ["ReachDomain", "ReachIngest", "ReachCalendar", "ReachEventLog", "ReachPostgres", "ReachTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachIngestTests",
            dependencies: ["ReachIngest", "ReachDomain", "ReachCalendar", "ReachEventLog", "ReachPostgres", "ReachTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachCLITests",
            dependencies: [
                "reach", "ReachCommandLine", "ReachApp", "ReachDomain", "ReachEventLog", "ReachPostgres", "ReachProjections", "ReachTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Read by path (UpgradeTests), not bundled.
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachProjectionsTests",
            dependencies: ["ReachProjections", "ReachDomain", "ReachIngest", "ReachCalendar", "ReachEventLog", "ReachPostgres", "ReachTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachServerTests",
            dependencies: [
                "ReachServer", "ReachApp", "ReachDomain", "ReachProjections", "ReachPostgres", "ReachCalendar", "ReachEventLog", "ReachTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachAppTests",
            dependencies: ["ReachApp", "ReachDomain", "ReachProjections"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReachEventLogTests",
            dependencies: ["ReachEventLog", "ReachPostgres", "ReachCalendar", "ReachTestSupport"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
