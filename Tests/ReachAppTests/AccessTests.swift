import ReachApp
import ReachDomain
import ReachEventLog
import ReachProjections
import Testing

@Suite("access decisions")
struct AccessTests {
    let year = try! Period.parse("2024/25").get()
    let lead = Identity(name: "lead", role: .laViewer, authorities: ["northvale"])
    let staff = Identity(name: "sam", role: .staff, authorities: ["northvale", "eastmoor"])
    let researcher = Identity(name: "alex", role: .researcher)
    let admin = Identity(name: "ops", role: .admin)

    @Test("a local authority's lead sees its own figures only, and never without a disclosure policy")
    func laViewer() throws {
        let grant = try Access.figures(MetricQuery(period: year), policy: nil, publish: false, for: lead)
        #expect(grant.query.la == "northvale")
        #expect(grant.policy == .dfe)
        #expect(grant.schema == "authority")
        #expect(try Access.figures(MetricQuery(period: year), policy: .nhs, publish: false, for: lead).policy == .nhs)
        #expect(throws: AccessDenied.self) {
            try Access.figures(MetricQuery(period: year), policy: DisclosurePolicy.Name.none, publish: false, for: lead)
        }
        #expect(throws: AccessDenied.self) { try Access.figures(MetricQuery(period: year, la: "eastmoor"), policy: nil, publish: false, for: lead) }
        #expect(throws: AccessDenied.self) { try Access.checkMayExport(la: "eastmoor", for: lead) }
        try Access.checkMayExport(la: "northvale", for: lead)
        #expect(throws: AccessDenied.self) { try Access.checkMayRecord(lead) }
        #expect(throws: AccessDenied.self) { try Access.checkMayOperate(.projectionsStatus, for: lead) }
    }

    @Test("researchers and admins see every authority, unsuppressed unless the figures leave the programme")
    func programme() throws {
        for identity in [researcher, admin] {
            let grant = try Access.figures(MetricQuery(period: year, la: "eastmoor"), policy: nil, publish: false, for: identity)
            #expect(grant.query.la == "eastmoor" && grant.policy == DisclosurePolicy.Name.none && grant.schema == "research")
            #expect(try Access.figures(MetricQuery(period: year), policy: nil, publish: true, for: identity).policy == .dfe)
            #expect(throws: AccessDenied.self) {
                try Access.figures(MetricQuery(period: year), policy: DisclosurePolicy.Name.none, publish: true, for: identity)
            }
        }
        #expect(throws: AccessDenied.self) { try Access.checkMayRecord(researcher) }
        #expect(throws: AccessDenied.self) { try Access.checkMayOperate(.projectionsRun, for: researcher) }
        try Access.checkMayOperate(.projectionsStatus, for: researcher)
        try Access.checkMayOperate(.projectionsRebuild, for: admin)
    }

    @Test("staff record and read for their own authorities only")
    func staffScope() throws {
        try Access.checkMayRecord(staff)
        let rule = Access.recordingRule(for: staff)
        let school = try JSONValue.parse(#"{"school_id":"100001","la_id":"westfield","name":"Example Academy","phase":"secondary"}"#)
        guard case .object(let fields) = school,
            case .success(let other) = RecordType.all["school_registered"]!.checkFields(fields, id: "s-1", today: .today)
        else {
            Issue.record("the example school did not pass its own checks")
            return
        }
        #expect(rule.permits(RecordType.all["school_registered"]!, other)?.field == "la_id")
        var own = other
        own.authorityID = "eastmoor"
        #expect(rule.permits(RecordType.all["school_registered"]!, own) == nil)
        #expect(Access.recordingRule(for: admin).permits(RecordType.all["school_registered"]!, other) == nil)
        // Staff know of their authorities' records (and the programme's), no other's.
        #expect(rule.sees("eastmoor") && rule.sees(nil) && !rule.sees("westfield"))
        #expect(Access.recordingRule(for: admin).sees("westfield"))
        // Two authorities: the one asked for must be named, and be theirs.
        #expect(throws: AccessDenied.self) { try Access.figures(MetricQuery(period: year), policy: nil, publish: false, for: staff) }
        #expect(try Access.figures(MetricQuery(period: year, la: "eastmoor"), policy: nil, publish: false, for: staff).query.la == "eastmoor")
        #expect(throws: AccessDenied.self) { try Access.figures(MetricQuery(period: year, la: "westfield"), policy: nil, publish: false, for: staff) }
    }
}
