import Logging
import ReachPostgres

extension ReachApplication {
    /// The database role an identity's reads run under, so that PostgreSQL limits what a
    /// request can read whatever its handler asks (migration `0021_request_roles.sql`): the
    /// research views for a researcher, the `scoped` views (limited to the request's
    /// authorities) for staff, the `authority` functions for a local authority's lead. An
    /// admin reads as the application.
    static func readingRole(of identity: Identity) -> String? {
        switch identity.role {
        case .researcher: "reach_researcher"
        case .staff: "reach_staff"
        case .laViewer: "reach_authority"
        case .admin: nil
        }
    }

    /// A connection for one request of `identity`: the request's account, role and authorities
    /// are set on it before any query (`reach.actor`, `reach.request_role`, `reach.authorities`,
    /// which the log's checks and the scoped views read) and, when `reading`, it takes the
    /// identity's reading role. Writes keep the application's login: the log's own checks
    /// refuse a staff member's events about another authority.
    public static func connect(
        _ configuration: ConnectionConfiguration, as identity: Identity, reading: Bool, logger: Logger,
        pool: ConnectionPool? = nil
    ) throws -> Connection {
        // Scoped connections are pooled apart (a configuration of their own): only this
        // function takes them, and it sets every setting of the request before any query.
        let connection = try pool?.take(scopedKey(configuration), logger: logger) ?? Connection(configuration: configuration, logger: logger)
        let role = reading ? (readingRole(of: identity) ?? "none") : "none"
        _ = try connection.query(
            """
            SELECT set_config('reach.actor', $1, false), set_config('reach.request_role', $2, false),
                   set_config('reach.authorities', $3, false), set_config('role', $4, false)
            """, [identity.name, identity.role.rawValue, identity.authorities.sorted().joined(separator: ","), role])
        return connection
    }

    /// A connection from the pool when there is one (else a new one), unscoped.
    static func open(_ configuration: ConnectionConfiguration, pool: ConnectionPool?, logger: Logger) throws -> Connection {
        try pool?.take(configuration, logger: logger) ?? Connection(configuration: configuration, logger: logger)
    }

    /// The pool's key for connections that have been scoped to a request (the same server and
    /// login; the application name tells them apart).
    static func scopedKey(_ configuration: ConnectionConfiguration) -> ConnectionConfiguration {
        configuration.overriding(["application_name": "reach-request"])
    }

    /// Gives connections back to the pool, if any, each under the configuration it was opened
    /// with: those scoped to a request to the scoped connections, which only
    /// ``connect(_:as:reading:logger:pool:)`` takes.
    static func release(_ connections: [Connection], pool: ConnectionPool?) {
        guard let pool else { return }
        for connection in connections { pool.give(connection) }
    }
}
