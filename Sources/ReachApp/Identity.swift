/// Who is asking: the person (or script) behind a request, with the role and authorities that
/// decide what they may do. Every use case of ``ReachApplication`` takes one; ``Access`` decides.
///
/// ```swift
/// let lead = Identity(name: "northvale_lead", role: .laViewer, authorities: ["northvale"])
/// let figures = try await app.metrics(request, as: lead)   // northvale's, under dfe
/// ```
public struct Identity: Sendable, Hashable {
    /// The roles of `../shared/spec/domain.md`.
    public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
        /// Programme staff: record events for the authorities they are assigned to.
        case staff
        /// Reads every authority's figures, unsuppressed if asked; records nothing.
        case researcher
        /// A local authority's lead: its own authority's figures, always under a disclosure policy.
        case laViewer = "la_viewer"
        /// Runs the programme's installation: users, reference data, the read side, the database.
        case admin
    }

    /// Who, as stored in each event's `actor` (a login or account name; never a young person).
    public var name: String
    public var role: Role
    /// For `staff`, the authorities they record for; for `la_viewer`, its one authority.
    public var authorities: Set<String>

    public init(name: String, role: Role, authorities: Set<String> = []) {
        self.name = name
        self.role = role
        self.authorities = authorities
    }
}
