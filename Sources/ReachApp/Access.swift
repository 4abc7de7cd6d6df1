import ReachDomain
import ReachProjections

/// A request refused for who is asking; the description says what they may do instead.
public struct AccessDenied: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Every access decision of Reach, in one place: who may record what, who sees which figures
/// under which disclosure policy, who may export an authority's summary, and who may operate
/// the installation. The use cases of ``ReachApplication`` ask here and nowhere else; the
/// database enforces the same again: each use case reads under the role of its asker
/// (``DatabaseClient/Login/request(_:reading:)``), and the log refuses a staff member's
/// request that appends for another authority.
///
/// | role | records | figures | policy | exports | operates |
/// | --- | --- | --- | --- | --- | --- |
/// | `staff` | for its authorities | its authorities | any (default none) | its authorities | no |
/// | `researcher` | nothing | every authority | any (default none) | any authority | reads status only |
/// | `la_viewer` | nothing | its authority | dfe or nhs (default dfe) | its authority | no |
/// | `admin` | anything | every authority | any (default none) | any authority | yes |
public enum Access {
    // MARK: Recording

    /// Whether the identity may record at all; throws for the roles that never record.
    public static func checkMayRecord(_ identity: Identity) throws {
        switch identity.role {
        case .staff, .admin: return
        case .researcher: throw AccessDenied("a researcher reads figures and records nothing; ask programme staff to record it")
        case .laViewer: throw AccessDenied("a local authority's login reads and exports its own figures and records nothing")
        }
    }

    /// The rule each record must pass, once its own checks pass, for this identity: staff
    /// record for their authorities only, and programme-wide reference data (partners) is an
    /// admin's to record; staff know of their authorities' records and things only (and of
    /// programme-wide ones), so another authority's record or school is answered as one that
    /// does not exist. Admins record and see everything.
    public static func recordingRule(for identity: Identity) -> RecordingRule {
        guard identity.role == .staff else { return .unrestricted }
        let authorities = identity.authorities
        return RecordingRule(
            permits: { type, checked in
                guard let authority = checked.authorityID else {
                    if case .amends = checked.rule {
                        return Refusal("record_id", "programme-wide reference data (a partner) is corrected or withdrawn by an admin")
                    }
                    return Refusal("record", "\(type.name) records are programme-wide; an admin records them")
                }
                guard authorities.contains(authority) else {
                    return Refusal("la_id", "you record for \(authorities.sorted().joined(separator: ", ")), not for '\(authority)'")
                }
                return nil
            },
            sees: { authority in
                authority.map(authorities.contains) ?? true
            })
    }

    // MARK: Figures

    /// What an identity is granted for a metrics request: the query limited to what it may
    /// see, the disclosure policy in force, and the views the figures are read from.
    public struct FiguresGrant: Sendable {
        public var query: MetricQuery
        public var policy: DisclosurePolicy.Name
        /// `research` (every authority), `scoped` (the research views limited by the database
        /// to the asker's authorities), or `authority` (a local authority's login, which reads
        /// its authority's published figures only).
        public var schema: String
    }

    /// Decides a metrics request. `policy` is what was asked for (nil: the role's default);
    /// `publish` says the figures will leave the programme (then `none` is refused and `dfe`
    /// is the default).
    public static func figures(_ query: MetricQuery, policy asked: DisclosurePolicy.Name?, publish: Bool, for identity: Identity) throws
        -> FiguresGrant
    {
        let grant = try grantFigures(query, policy: asked, publish: publish, for: identity)
        // What one person outside the programme may combine: standard periods, whole authorities.
        if grant.policy != .none, let refusal = Publication.refusal(grant.query) { throw RequestError(refusal) }
        return grant
    }

    static func grantFigures(_ query: MetricQuery, policy asked: DisclosurePolicy.Name?, publish: Bool, for identity: Identity) throws -> FiguresGrant
    {
        if publish && asked == DisclosurePolicy.Name.none {
            throw AccessDenied("figures that leave the programme need a disclosure policy: dfe or nhs, not none")
        }
        var scoped = query
        switch identity.role {
        case .researcher, .admin:
            return FiguresGrant(query: query, policy: asked ?? (publish ? .dfe : .none), schema: "research")
        case .laViewer:
            let authority = try ownAuthority(identity, asked: query.la, what: "figures")
            if asked == DisclosurePolicy.Name.none {
                throw AccessDenied("a local authority's login sees figures under a disclosure policy only: dfe or nhs, not none")
            }
            scoped.la = authority
            return FiguresGrant(query: scoped, policy: asked ?? .dfe, schema: "authority")
        case .staff:
            scoped.la = try ownAuthority(identity, asked: query.la, what: "figures")
            return FiguresGrant(query: scoped, policy: asked ?? (publish ? .dfe : .none), schema: "scoped")
        }
    }

    // MARK: Exports

    /// Decides an export of an authority's summary (the policy is dfe or nhs, checked by the
    /// export itself): researchers and admins export any authority, the others their own.
    public static func checkMayExport(la: String, for identity: Identity) throws {
        switch identity.role {
        case .researcher, .admin: return
        case .laViewer, .staff: _ = try ownAuthority(identity, asked: la, what: "summaries")
        }
    }

    // MARK: Operating

    /// What operating the installation means: the read side, the raw log, the database.
    public enum Operation: String, Sendable {
        case projectionsStatus = "see the projections' status"
        case projectionsRun = "run the projections"
        case projectionsRebuild = "rebuild projections"
        case eventsRead = "read the raw log"
        case eventsAppend = "append raw events"
        case eventsVerify = "verify the log's hash chains"
        case eventsSeal = "seal the log"
        case loadDemo = "load the demo data set"
        case manageUsers = "manage accounts and tokens"
        case setPolicy = "set an authority's disclosure policy"
    }

    /// Admins operate the installation; researchers may also look at the projections' status
    /// and verify the log.
    public static func checkMayOperate(_ operation: Operation, for identity: Identity) throws {
        switch (identity.role, operation) {
        case (.admin, _), (.researcher, .projectionsStatus), (.researcher, .eventsVerify): return
        default: throw AccessDenied("only an admin may \(operation.rawValue)")
        }
    }

    // MARK: Reading the whole programme

    /// Whether the identity reads the whole programme (every authority's figures, the research
    /// views, the programme's page): researchers and admins.
    public static func readsProgramme(_ identity: Identity) -> Bool {
        identity.role == .researcher || identity.role == .admin
    }

    /// Throws unless the identity reads the whole programme; `what` names what was asked for.
    public static func checkReadsProgramme(_ identity: Identity, _ what: String) throws {
        guard readsProgramme(identity) else { throw AccessDenied("\(what) is for researchers and admins") }
    }

    /// Whether the identity may record (``checkMayRecord(_:)`` without the reason).
    public static func mayRecord(_ identity: Identity) -> Bool {
        (try? checkMayRecord(identity)) != nil
    }

    /// Whether the identity sees every account's import jobs (an admin), not only its own.
    public static func seesEveryonesImports(_ identity: Identity) -> Bool {
        identity.role == .admin
    }

    /// The one authority an identity scoped to its own may ask about: the one asked for when
    /// it is theirs, or their only one when none was named.
    static func ownAuthority(_ identity: Identity, asked: String?, what: String) throws -> String {
        let own = identity.authorities
        if let asked {
            guard own.contains(asked) else {
                throw AccessDenied("this login reads the \(what) of local authority '\(own.sorted().joined(separator: "', '"))' only, not '\(asked)'")
            }
            return asked
        }
        guard own.count == 1, let only = own.first else {
            throw AccessDenied(
                own.isEmpty
                    ? "this login is assigned to no local authority"
                    : "name one of your authorities (\(own.sorted().joined(separator: ", "))) with --la")
        }
        return only
    }
}

/// What a front asks before it acts for someone: whether to show a menu's entry, or to refuse
/// an upload before reading it. The application answers from ``Access``, so that no front
/// makes an access decision of its own (the use cases check again, whoever calls them).
public enum Capability: Sendable {
    /// Record, correct, withdraw and import.
    case record
    /// Read the whole programme (the research views, the programme's page); `what` names what
    /// was asked for, for the refusal.
    case readProgramme(String)
    /// Export an authority's summary.
    case export(la: String)
    /// Run an operation of the programme's (accounts, the log's events...).
    case operate(Access.Operation)
}

extension ReachApplication {
    /// Throws ``AccessDenied`` unless `identity` may do what `capability` names.
    public static func authorize(_ capability: Capability, as identity: Identity) throws {
        switch capability {
        case .record: try Access.checkMayRecord(identity)
        case .readProgramme(let what): try Access.checkReadsProgramme(identity, what)
        case .export(let la): try Access.checkMayExport(la: la, for: identity)
        case .operate(let operation): try Access.checkMayOperate(operation, for: identity)
        }
    }

    /// Whether `identity` may do what `capability` names (``authorize(_:as:)`` without the reason).
    public static func allows(_ capability: Capability, _ identity: Identity) -> Bool {
        (try? authorize(capability, as: identity)) != nil
    }
}
