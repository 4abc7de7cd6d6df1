import Logging
import ReachPostgres

extension ReachApplication {
    /// The database role an identity's reads run under, so that PostgreSQL limits what a
    /// request can read whatever its handler asks (migration `0021_request_roles.sql`): the
    /// research views for a researcher, the `scoped` views (limited to the request's
    /// authorities) for staff, the `authority` functions for a local authority's lead. An
    /// admin reads as the application. ``DatabaseClient`` sets it on a request's connections.
    static func readingRole(of identity: Identity) -> String? {
        switch identity.role {
        case .researcher: "reach_researcher"
        case .staff: "reach_staff"
        case .laViewer: "reach_authority"
        case .admin: nil
        }
    }
}
