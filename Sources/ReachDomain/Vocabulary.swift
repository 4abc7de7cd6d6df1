/// The programme's vocabulary, exactly as `shared/spec/domain.md` lists it. Every value is the
/// snake_case word used on the wire.
public protocol Vocabulary: RawRepresentable<String>, CaseIterable, Codable, Hashable, Sendable {
    /// What a person calls this list, for messages ("school phase").
    static var listName: String { get }
}

extension Vocabulary {
    /// The words allowed, comma-separated, for messages.
    public static var choices: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// England's nine regions, Wales, Scotland and Northern Ireland.
public enum Region: String, Vocabulary {
    case northEast = "north_east"
    case northWest = "north_west"
    case yorkshireAndTheHumber = "yorkshire_and_the_humber"
    case eastMidlands = "east_midlands"
    case westMidlands = "west_midlands"
    case eastOfEngland = "east_of_england"
    case london
    case southEast = "south_east"
    case southWest = "south_west"
    case wales, scotland
    case northernIreland = "northern_ireland"
    public static let listName = "region"
}

public enum SchoolPhase: String, Vocabulary {
    case primary, secondary
    case allThrough = "all_through"
    case special
    case alternativeProvision = "alternative_provision"
    case college
    public static let listName = "school phase"
}

public enum PartnerKind: String, Vocabulary {
    case vcse, police
    case youthOffendingService = "youth_offending_service"
    case socialCare = "social_care"
    case communitySafety = "community_safety"
    case health, education, business
    case youthWork = "youth_work"
    case other
    public static let listName = "partner kind"
}

/// The 2024-29 strategy's projects, or `local` for a pilot that serves none of them.
public enum StrategyProject: String, Vocabulary {
    case planningForSafety = "planning_for_safety"
    case resourcingSafety = "resourcing_safety"
    case capacityToContext = "capacity_to_context"
    case crossingTheDivide = "crossing_the_divide"
    case everybodysBusiness = "everybodys_business"
    case scalingAndSupportingReadiness = "scaling_and_supporting_readiness"
    case seekingSafety = "seeking_safety"
    case csAndCulturalSensitivity = "cs_and_cultural_sensitivity"
    case local
    public static let listName = "strategy project"
}

/// A school's engagement with a pilot, in the order schools move through it.
public enum EngagementStage: String, Vocabulary {
    case identified, scoping
    case leadershipEngaged = "leadership_engaged"
    case strategyAgreed = "strategy_agreed"
    case assessing, implementing, embedding, sustaining, withdrawn
    public static let listName = "engagement stage"

    /// Position in the forward order; `withdrawn` stands outside it.
    public var order: Int? { self == .withdrawn ? nil : Self.allCases.firstIndex(of: self) }

    /// Whether a school at `current` may be recorded at `self` next: stages only move forward,
    /// `withdrawn` may follow any stage, and after `withdrawn` a school may start again anywhere.
    public func mayFollow(_ current: EngagementStage?) -> Bool {
        guard let current, current != .withdrawn else { return true }
        guard let next = order else { return true }
        return next > current.order!
    }

    /// Implementing or beyond (what counts against a pilot's target).
    public var isImplementingOrBeyond: Bool { (order ?? -1) >= EngagementStage.implementing.order! }
}

/// The phase of the programme an activity belongs to.
public enum ActivityPhase: String, Vocabulary {
    case engagement, assessment, support
    case multiAgency = "multi_agency"
    public static let listName = "activity phase"
}

public enum ActivityKind: String, Vocabulary {
    // engagement
    case scopingExercise = "scoping_exercise"
    case educationTeamMeeting = "education_team_meeting"
    case pruVisit = "pru_visit"
    case leadershipMeeting = "leadership_meeting"
    case implementationPlanning = "implementation_planning"
    // assessment
    case safetyPlanningExercise = "safety_planning_exercise"
    case communityPolicingMeeting = "community_policing_meeting"
    case peerMapping = "peer_mapping"
    case safetyMapping = "safety_mapping"
    case parentConsultation = "parent_consultation"
    case neighbourhoodAssessment = "neighbourhood_assessment"
    case focusGroup = "focus_group"
    // support
    case assembly
    case staffTraining = "staff_training"
    case pupilWorkshop = "pupil_workshop"
    case restorativeCircle = "restorative_circle"
    case peerMentorTraining = "peer_mentor_training"
    case parentGovernorWorkshop = "parent_governor_workshop"
    case leadershipCoaching = "leadership_coaching"
    case networkSession = "network_session"
    case incidentForum = "incident_forum"
    // multi-agency
    case safetySummit = "safety_summit"
    case schoolPartnershipMeeting = "school_partnership_meeting"
    case peerGroupConference = "peer_group_conference"
    case contextPanel = "context_panel"
    case dslNetworkMeeting = "dsl_network_meeting"
    case youthOutreach = "youth_outreach"
    case guardianshipTraining = "guardianship_training"
    public static let listName = "activity kind"

    /// The phase the spec puts this kind in.
    public var phase: ActivityPhase {
        switch self {
        case .scopingExercise, .educationTeamMeeting, .pruVisit, .leadershipMeeting, .implementationPlanning:
            return .engagement
        case .safetyPlanningExercise, .communityPolicingMeeting, .peerMapping, .safetyMapping, .parentConsultation,
            .neighbourhoodAssessment, .focusGroup:
            return .assessment
        case .assembly, .staffTraining, .pupilWorkshop, .restorativeCircle, .peerMentorTraining,
            .parentGovernorWorkshop, .leadershipCoaching, .networkSession, .incidentForum:
            return .support
        case .safetySummit, .schoolPartnershipMeeting, .peerGroupConference, .contextPanel, .dslNetworkMeeting,
            .youthOutreach, .guardianshipTraining:
            return .multiAgency
        }
    }
}

public enum KeyStage: String, Vocabulary {
    case ks1, ks2, ks3, ks4, ks5
    public static let listName = "key stage"
}

public enum StaffRole: String, Vocabulary {
    case leadership, teaching, pastoral, dsl, support, governor
    public static let listName = "staff role"
}

public enum DeliveryMode: String, Vocabulary {
    case inPerson = "in_person"
    case virtual
    public static let listName = "mode"
}

/// The levels a context panel decides between.
public enum ThresholdLevel: String, Vocabulary {
    case belowThreshold = "below_threshold"
    case universalEarlyHelp = "universal_early_help"
    case childInNeed = "child_in_need"
    case childProtection = "child_protection"
    public static let listName = "threshold level"

    /// The pathways that fit this level, exactly as the spec lists them.
    public var pathways: [Pathway] {
        switch self {
        case .belowThreshold: return [.schoolManagesInternally]
        case .universalEarlyHelp: return [.safetySummit, .schoolPartnershipMeeting]
        case .childInNeed, .childProtection: return [.beyondReferralsSelfAssessment, .schoolAssessment]
        }
    }
}

public enum Pathway: String, Vocabulary {
    case schoolManagesInternally = "school_manages_internally"
    case safetySummit = "safety_summit"
    case schoolPartnershipMeeting = "school_partnership_meeting"
    case beyondReferralsSelfAssessment = "beyond_referrals_self_assessment"
    case schoolAssessment = "school_assessment"
    public static let listName = "pathway"
}

public enum LocationKind: String, Vocabulary {
    case publicSpace = "public_space"
    case park, shop, transport, estate
    case onlinePlatform = "online_platform"
    case other
    public static let listName = "location kind"
}

public enum ConcernType: String, Vocabulary {
    case alcohol
    case substanceMisuse = "substance_misuse"
    case sexualExploitation = "sexual_exploitation"
    case criminalExploitation = "criminal_exploitation"
    case violence
    case criminalDamage = "criminal_damage"
    case harassment, other
    public static let listName = "concern type"
}

/// The concerns a context referral names: the threshold indicators of the school threshold
/// guidance (seed 002), at child in need and child protection level, or `other`.
public enum ThresholdIndicator: String, Vocabulary {
    // child in need
    case highFixedTermExclusionsOrManagedMoves = "high_fixed_term_exclusions_or_managed_moves"
    case highNonAttendanceOrLateness = "high_non_attendance_or_lateness"
    case inconsistentAdultResponses = "inconsistent_adult_responses"
    case guardiansNormaliseHarm = "guardians_normalise_harm"
    case harmfulIncidentsInContext = "harmful_incidents_in_context"
    // child protection
    case highPermanentExclusions = "high_permanent_exclusions"
    case sexualAbuseOrViolenceInContext = "sexual_abuse_or_violence_in_context"
    case victimBlamingViews = "victim_blaming_views"
    case adultsFailToIdentifyOrChallenge = "adults_fail_to_identify_or_challenge"
    case noEffectiveBehaviourPolicies = "no_effective_behaviour_policies"
    case other
    public static let listName = "threshold indicator"
}

public enum RespondentGroup: String, Vocabulary {
    case pupils, staff
    case parentsCarers = "parents_carers"
    public static let listName = "respondent group"
}

/// The survey measures, each asked of one respondent group.
public enum SurveyMeasure: String, Vocabulary {
    case feelSafeInSchool = "feel_safe_in_school"
    case feelSafeTravelling = "feel_safe_travelling"
    case feelSafeNeighbourhood = "feel_safe_neighbourhood"
    case feelSafeOnline = "feel_safe_online"
    case trustedAdultInSchool = "trusted_adult_in_school"
    case knowHowToReport = "know_how_to_report"
    case feelListenedTo = "feel_listened_to"
    case confidentIdentifyingEFH = "confident_identifying_efh"
    case confidentRespondingEFH = "confident_responding_efh"
    case awareOfPupilSafetyConcerns = "aware_of_pupil_safety_concerns"
    case schoolKeepsChildrenSafe = "school_keeps_children_safe"
    public static let listName = "survey measure"

    /// The group the measure is asked of.
    public var group: RespondentGroup {
        switch self {
        case .confidentIdentifyingEFH, .confidentRespondingEFH, .awareOfPupilSafetyConcerns: return .staff
        case .schoolKeepsChildrenSafe: return .parentsCarers
        default: return .pupils
        }
    }
}

/// A survey wave: `baseline`, or `follow_up_1`, `follow_up_2`, ...
public struct SurveyWave: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// 0 for the baseline, n for follow-up n.
    public var number: Int
    public init?(_ text: String) {
        if text == "baseline" {
            number = 0
            return
        }
        guard text.hasPrefix("follow_up_"), let n = Int(text.dropFirst("follow_up_".count)), n >= 1, n <= 99,
            String(n) == text.dropFirst("follow_up_".count)
        else { return nil }
        number = n
    }
    public var description: String { number == 0 ? "baseline" : "follow_up_\(number)" }
    public static func < (a: SurveyWave, b: SurveyWave) -> Bool { a.number < b.number }
}

public enum AssessmentMethod: String, Vocabulary {
    case focusGroups = "focus_groups"
    case policyReview = "policy_review"
    case recordsReview = "records_review"
    case surveys, observations
    public static let listName = "assessment method"
}

/// The three domains of a School Assessment.
public enum AssessmentDomain: String, Vocabulary {
    case pupilDevelopmentNeeds = "pupil_development_needs"
    case guardianshipCapacity = "guardianship_capacity"
    case environmentalAndFamilyFactors = "environmental_and_family_factors"
    public static let listName = "assessment domain"
}

/// The four areas a school rates itself on in a Beyond Referrals self-assessment.
public enum SelfAssessmentArea: String, Vocabulary {
    case structuresAndSystems = "structures_and_systems"
    case prevention
    case identificationAndResponse = "identification_and_response"
    case intervention
    public static let listName = "self-assessment area"
}

public enum RAGRating: String, Vocabulary {
    case red, amber, green
    public static let listName = "rating"
}

public enum SharedWith: String, Vocabulary {
    case youngPeople = "young_people"
    case parentsCarers = "parents_carers"
    case schoolCommunity = "school_community"
    public static let listName = "audience"
}

public enum ReviewOutcome: String, Vocabulary {
    case escalated
    case deEscalated = "de_escalated"
    case closed
    public static let listName = "review outcome"
}

public enum InterventionKind: String, Vocabulary {
    case youthOutreach = "youth_outreach"
    case cctv
    case policingPresence = "policing_presence"
    case licensingVisit = "licensing_visit"
    case residentLetters = "resident_letters"
    case guardianshipTraining = "guardianship_training"
    case environmentalDesign = "environmental_design"
    public static let listName = "intervention kind"
}

/// An academic year such as `2024/25` (1 September to 31 August).
public struct AcademicYear: Hashable, Sendable, CustomStringConvertible {
    /// The calendar year it starts in.
    public var startYear: Int
    public init(startYear: Int) { self.startYear = startYear }
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let start = Int(parts[0]), let end = Int(parts[1]),
            (start + 1) % 100 == end, start >= 2000
        else { return nil }
        startYear = start
    }
    public var description: String {
        let end = (startYear + 1) % 100
        return "\(startYear)/\(end < 10 ? "0" : "")\(end)"
    }
}
