import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachPostgres
import Testing

@Suite("domain rules without a database")
struct RuleTests {
    static let today = CalendarDate(year: 2026, month: 11, day: 22)

    func check(_ type: RecordType, _ data: String) throws -> [Refusal] {
        guard case .object(let fields) = try JSONValue.parse(data) else { throw Refusals([Refusal("test", "not an object")]) }
        var reader = FieldReader(fields, today: Self.today)
        _ = type.checkData(&reader, "r-1")
        return reader.refusals + reader.unknownFieldRefusals
    }

    @Test("threshold pathways fit their level exactly as the spec lists them")
    func pathwaysFitLevels() {
        #expect(ThresholdLevel.belowThreshold.pathways == [.schoolManagesInternally])
        #expect(ThresholdLevel.universalEarlyHelp.pathways == [.safetySummit, .schoolPartnershipMeeting])
        #expect(ThresholdLevel.childInNeed.pathways == [.beyondReferralsSelfAssessment, .schoolAssessment])
        #expect(ThresholdLevel.childProtection.pathways == [.beyondReferralsSelfAssessment, .schoolAssessment])
        #expect(Set(ThresholdLevel.allCases.flatMap(\.pathways)) == Set(Pathway.allCases))
    }

    @Test("engagement stages move forward; withdrawn may follow any stage and anything may follow it")
    func stagesMoveForward() {
        #expect(EngagementStage.identified.mayFollow(nil))
        #expect(EngagementStage.implementing.mayFollow(.scoping))
        #expect(!EngagementStage.identified.mayFollow(.implementing))
        #expect(!EngagementStage.implementing.mayFollow(.implementing))
        #expect(EngagementStage.withdrawn.mayFollow(.sustaining))
        #expect(EngagementStage.identified.mayFollow(.withdrawn))
        #expect(EngagementStage.implementing.isImplementingOrBeyond && !EngagementStage.assessing.isImplementingOrBeyond)
        #expect(ActivityKind.assembly.phase == .support && ActivityKind.contextPanel.phase == .multiAgency)
    }

    static let activity =
        #"{"pilot_id":"p1","la_id":"la1","school_id":"s1","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":180},"staff":{"teaching":6}}}"#

    @Test("a good activity passes")
    func goodActivity() throws {
        #expect(try check(.activityDelivered, Self.activity).isEmpty)
    }

    @Test(
        "each broken rule is refused with the field named",
        arguments: [
            ("\"kind\":\"assembly\"", "\"kind\":\"asembly\"", "kind"),
            ("\"date\":\"2024-10-03\"", "\"date\":\"2024-02-30\"", "date"),
            ("\"date\":\"2024-10-03\"", "\"date\":\"2027-01-01\"", "date"),
            ("\"date\":\"2024-10-03\"", "\"date\":\"2016-12-31\"", "date"),
            ("\"duration_minutes\":45", "\"duration_minutes\":0", "duration_minutes"),
            ("\"duration_minutes\":45", "\"duration_minutes\":1441", "duration_minutes"),
            ("\"duration_minutes\":45", "\"duration_minutes\":45.5", "duration_minutes"),
            ("\"ks3\":180", "\"ks3\":-1", "attendance.pupils.ks3"),
            ("\"ks3\":180", "\"ks9\":180", "attendance.pupils.ks9"),
            ("\"teaching\":6", "\"teachers\":6", "attendance.staff.teachers"),
            ("\"mode\":\"in_person\"", "\"mode\":\"in person\"", "mode"),
            ("\"mode\":\"in_person\"", "\"mode\":\"in_person\",\"colour\":\"red\"", "colour"),
            ("\"school_id\":\"s1\"", "\"school_id\":\"s1\",\"online\":true", "school_id"),
            ("\"la_id\":\"la1\"", "\"la_id\":\"la 1\"", "la_id"),
        ])
    func brokenRules(good: String, bad: String, field: String) throws {
        let refusals = try check(.activityDelivered, Self.activity.replacingOccurrences(of: good, with: bad))
        #expect(refusals.map(\.field).contains(field), "\(refusals)")
    }

    @Test("an activity with no attendee is refused")
    func noAttendee() throws {
        let data = Self.activity.replacingOccurrences(
            of: #""attendance":{"pupils":{"ks3":180},"staff":{"teaching":6}}"#, with: #""attendance":{"pupils":{"ks3":0}}"#)
        let refusals = try check(.activityDelivered, data)
        #expect(refusals.map(\.field) == ["attendance.total"])
        #expect(refusals[0].reason.contains("at least one attendee"))
    }

    @Test("free text is at most 500 characters and a withdrawal needs a reason")
    func textAndReasons() throws {
        let long = String(repeating: "x", count: 501)
        let pilot =
            #"{"pilot_id":"p1","la_id":"la1","name":"N","approach":"\#(long)","strategy_project":"local","objectives":[1],"policy_goals":[7],"target_schools":11,"start_date":"2024-09-01"}"#
        #expect(try check(.pilotRegistered, pilot).map(\.field) == ["approach"])
        let goals = pilot.replacingOccurrences(of: long, with: "CS-restorative practice").replacingOccurrences(of: "[7]", with: "[8]")
        #expect(try check(.pilotRegistered, goals).map(\.field) == ["policy_goals"])
        let withdrawn = #"{"pilot_id":"p1","school_id":"s1","la_id":"la1","stage":"withdrawn","date":"2025-01-10"}"#
        #expect(try check(.engagementStageReached, withdrawn).map(\.field) == ["reason"])
        let gss = #"{"la_id":"lewisham","name":"Lewisham","gss_code":"X123","region":"london","joined_on":"2024-09-01"}"#
        #expect(try check(.localAuthorityRegistered, gss).map(\.field) == ["gss_code"])
    }
}

@Suite("upcasting")
struct UpcastingTests {
    @Test("version 1 of activity_delivered (a virtual flag) reads as version 2 (a mode)")
    func activityVersionOne() throws {
        guard case .object(let v1) = try JSONValue.parse(#"{"kind":"assembly","virtual":true}"#) else { return }
        let current = try #require(RecordType.activityDelivered.upcast(v1, from: 1))
        #expect(current == ["kind": .string("assembly"), "mode": .string("virtual")])
        #expect(RecordType.activityDelivered.upcast(v1, from: 2) == v1)
        #expect(RecordType.activityDelivered.upcast(v1, from: 3) == nil)
        #expect(RecordType.activityDelivered.schemaVersion == 2)
    }
}

@Suite("JSON")
struct JSONTests {
    @Test("the reader reads what Foundation reads, and refuses what is not JSON")
    func parser() throws {
        let text = #"{"a":[1,-2.5,3e2,true,false,null],"b":"q\"uote \\ \/ \n \u00e9 \ud83c\udfeb","c":{},"d":[]}"#
        let mine = try JSONValue.parse(text)
        // Foundation reads it too, and what the writer writes reads back the same.
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil)
        #expect(try JSONValue.parse(mine.text) == mine)
        #expect(try JSONValue.parse(mine.jsonbText) == mine)
        #expect(
            mine
                == .object([
                    "a": .array([.number(1), .number(-2.5), .number(300), .bool(true), .bool(false), .null]),
                    "b": .string("q\"uote \\ / \n é 🏫"), "c": .object([:]), "d": .array([]),
                ]))
        for bad in ["", "{", "{\"a\":}", "[1,]", "01", "\"a", "{\"a\" 1}", "tru", "[1] 2", "\"\u{01}\"", "1.", "-", "\"\\ud800\""] {
            #expect(throws: (any Error).self, "\(bad)") { try JSONValue.parse(bad) }
        }
    }
}

/// The one rule for ids and the rules for text.
@Suite("ids and text")
struct TextRulesTests {
    @Test("an id is ASCII letters, digits, -, _ and . only: no spaces, look-alike letters or invisible characters")
    func identifiers() {
        for good in ["northvale", "900001", "demo-7.la-northvale", "a_b"] { #expect(TextRules.isIdentifier(good, maxLength: 100), "\(good)") }
        for bad in [
            "", "north vale", "northv\u{0430}le", "9000\u{200B}01", "a:b", "\u{FEFF}x", "é", ".", "..", "-_", String(repeating: "a", count: 101),
        ] {
            #expect(!TextRules.isIdentifier(bad, maxLength: 100), "\(bad)")
        }
        #expect(Recorder.Envelope.recordID(" act-1 ") == "act-1")
        #expect(Recorder.Envelope.recordID("act 1") == nil && Recorder.Envelope.existingRecordID("demo-7:old") == "demo-7:old")
    }

    @Test("text may hold no format, private-use or unassigned character; it is kept composed")
    func text() throws {
        for bad in [
            "a\u{202E}b", "a\u{200B}b", "\u{FEFF}ab", "a\u{2066}b", "a\u{00AD}b", "a\u{E000}b", "a\u{2028}b", "a\u{3164}b",
            "a\u{034F}b", "a\u{FE0F}b", "a\u{2800}b", "a\u{115F}b",
        ] {
            #expect(TextRules.forbiddenCharacter(in: bad) != nil, "\(bad.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        for good in ["Café", "Ysgol Gymraeg", "Zürich", "東京", "ok"] { #expect(TextRules.forbiddenCharacter(in: good) == nil) }
        let decomposed: JSONObject = ["name": .string("Cafe\u{0301}"), "list": .array([.string("e\u{0301}")]), "n": .number(1)]
        let composed = TextRules.composed(decomposed)
        guard case .string(let name)? = composed["name"], case .array(let list)? = composed["list"], case .string(let item)? = list.first else {
            Issue.record("\(composed)")
            return
        }
        #expect(Array(name.utf8) == Array("Caf\u{00E9}".utf8) && Array(item.utf8) == [0xC3, 0xA9])
        // Read as a record: a label with a direction override is refused, naming the field.
        var reader = FieldReader(["label": .string("Park \u{202E}krap")], today: CalendarDate(year: 2026, month: 1, day: 1))
        #expect(reader.text("label") == nil)
        #expect(reader.refusals.first?.field == "label" && reader.refusals.first?.reason.contains("U+202E") == true)
    }
}
