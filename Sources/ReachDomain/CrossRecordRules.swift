import Foundation
import ReachCalendar
import ReachEventLog

/// A record whose own checks passed (its fields, without asking the log), waiting for the
/// rules between records.
public struct Candidate: Sendable {
    /// Where it came from (a file's line; 1 for a single record), for refusals that name another.
    public var line: Int
    /// The id its sender chose, and the event id derived from it.
    public var recordID: String
    public var eventID: UUID
    public var type: RecordType
    /// Its data, and the same as JSON text (which tells two records under one id apart).
    public var data: JSONObject
    public var dataText: String
    /// What its own checks found: its stream, authority, date, references and stream rule.
    public var checked: CheckedRecord

    public init(line: Int, recordID: String, type: RecordType, data: JSONObject, dataText: String, checked: CheckedRecord) {
        self.line = line
        self.recordID = recordID
        self.eventID = EventLog.recordEventID(recordID)
        self.type = type
        self.data = data
        self.dataText = dataText
        self.checked = checked
    }
}

/// What the rules between records need to know from the log about a batch of candidates,
/// loaded set-based (a few queries for a whole chunk of an import, the same for one record).
public struct LogFacts: Sendable {
    /// Whether ``present`` was asked; when not, every id is taken to be new (an import's first
    /// pass, which the log's unique index on ids checks instead).
    public var askedIDs = true
    /// Records in the log, by event id: where, whether with the same type and data, and whose.
    public var present: [UUID: PresentRecord] = [:]
    /// Streams of registrations that have events.
    public var registered: Set<String> = []
    /// Who each registered thing referred to belongs to (nil for programme-wide things).
    public var owners: [String: String?] = [:]
    /// Engagement streams that exist: their version and latest stage.
    public var stages: [String: (version: Int64, stage: EngagementStage?)] = [:]
    /// The records amendments name, and whether each was withdrawn.
    public var recorded: [String: (event: RecordedEvent, withdrawn: Bool)] = [:]
    /// The action ids of safety plans, by the plan's stream.
    public var planActions: [String: [String]] = [:]

    public init() {}
}

/// A record the log holds already, as a new record with its id finds it.
public struct PresentRecord: Sendable {
    /// Its position in the log.
    public var position: Int64
    /// Whether it holds the same type and data as the new record.
    public var same: Bool
    /// The authority its event belongs to (for an amendment, the amended record's).
    public var authorityID: String?

    public init(position: Int64, same: Bool, authorityID: String?) {
        self.position = position
        self.same = same
        self.authorityID = authorityID
    }
}

/// What becomes of a candidate.
public enum Verdict: Sendable {
    /// Append it as `checked` says (for an amendment: to the stream of the record it amends),
    /// expecting its stream at `expected` (checked again by the log when appended one by one).
    case append(CheckedRecord, expected: ExpectedVersion)
    /// The same record is in the log already (at this position), or earlier in the batch (nil).
    case alreadyPresent(position: Int64?)
    /// Refused, with every reason found; `byLog` when a reason comes from what the log holds.
    case refused([Refusal], byLog: Bool)
}

/// The rules between records, written once: ids (a record sent again is the same record),
/// amendments (a correction or withdrawal names a record that can take it), who may record
/// what, references (to things registered, belonging to the authority the record names),
/// safety-plan actions, registrations (once each) and engagement stages (forward only).
///
/// A pure function of the candidates, in order, and the facts the log gave about them:
/// recording one record is a batch of one; an import judges a chunk at once. A candidate sees
/// the log as the facts describe it plus the candidates before it that were to be appended,
/// exactly as if each had been recorded in turn.
public enum CrossRecordRules {
    public static func judge(_ candidates: [Candidate], facts: LogFacts, today: CalendarDate, rule: RecordingRule) -> [Verdict] {
        var batch = Batch(facts: facts, rule: rule)
        var verdicts: [Verdict] = []
        verdicts.reserveCapacity(candidates.count)
        for index in candidates.indices {
            let verdict = batch.judge(candidates, index, today: today)
            if case .append(let checked, _) = verdict {
                batch.seen[candidates[index].eventID] = index
                batch.accept(candidates[index], as: checked)
            }
            verdicts.append(verdict)
        }
        return verdicts
    }

    /// The refusal of a record whose id the log holds for a different record.
    public static func idUsedElsewhere(_ recordID: String) -> Refusal {
        Refusal("id", "'\(recordID)' was already used for a different record; give this record an id of its own")
    }

    /// The refusal of an amendment naming a record that is not in the log, or that the one
    /// recording may not see (another authority's): the same words for both.
    public static func noRecord(_ recordID: String) -> Refusal {
        Refusal("record_id", "no record with id '\(recordID)' has been recorded")
    }

    /// The answer to a record the log holds already, whatever today's checks say of it:
    /// recorded, unless its id holds a different record, or the record belongs to an authority
    /// the recorder may not see (then it is answered as the same record sent anew would be:
    /// refused for its authority, or, for an amendment, as one naming a record that does not
    /// exist). `amends` is the record an amendment names.
    public static func answerPresent(recordID: String, type: RecordType, amends: String?, present: PresentRecord, rule: RecordingRule) -> Verdict {
        guard present.same else { return .refused([idUsedElsewhere(recordID)], byLog: true) }
        guard !rule.sees(present.authorityID) else { return .alreadyPresent(position: present.position) }
        if let amends { return .refused([noRecord(amends)], byLog: true) }
        let checked = CheckedRecord(streamID: "", authorityID: present.authorityID, occurredOn: nil, references: [], rule: .none)
        return .refused(
            [rule.permits(type, checked) ?? Refusal("la_id", "you may not record for '\(present.authorityID ?? "the whole programme")'")], byLog: true
        )
    }

    /// The ids of a safety plan's actions.
    public static func actionIDs(of plan: JSONObject) -> [String] {
        guard case .array(let actions)? = plan["actions"] else { return [] }
        return actions.compactMap { action in
            guard case .object(let fields) = action, case .string(let id)? = fields["action_id"] else { return nil }
            return id
        }
    }

    /// The log as the facts describe it, moved on by the candidates accepted so far.
    private struct Batch {
        var facts: LogFacts
        /// The first candidate (index) with each event id.
        var seen: [UUID: Int] = [:]
        /// Records accepted in this batch, by record id.
        var accepted: [String: (type: String, checked: CheckedRecord)] = [:]
        var withdrawn: Set<String> = []
        /// Verdicts on references that passed (they cannot fail later: registrations stay).
        var passed: Set<Reference> = []
        let rule: RecordingRule

        init(facts: LogFacts, rule: RecordingRule) {
            self.facts = facts
            self.rule = rule
        }

        mutating func judge(_ candidates: [Candidate], _ index: Int, today: CalendarDate) -> Verdict {
            let candidate = candidates[index]
            // A record sent again is the same record; an id holds one record only. (Only rows
            // appended or found in the log count: a row refused earlier is judged again, as
            // recording the rows one by one would.)
            if let first = seen[candidate.eventID] {
                if candidates[first].type.name == candidate.type.name && candidates[first].dataText == candidate.dataText {
                    return .alreadyPresent(position: nil)
                }
                return .refused(
                    [Refusal("id", "'\(candidate.recordID)' is used on line \(candidates[first].line) for a different record")], byLog: false)
            }
            if let present = facts.present[candidate.eventID] {
                var amends: String?
                if case .amends(let recordID, _, _) = candidate.checked.rule { amends = recordID }
                let verdict = CrossRecordRules.answerPresent(
                    recordID: candidate.recordID, type: candidate.type, amends: amends, present: present, rule: rule)
                if case .alreadyPresent = verdict { seen[candidate.eventID] = index }
                return verdict
            }

            var checked = candidate.checked
            if case .amends(let target, let withdraws, let correctedData) = checked.rule {
                switch amendment(of: target, withdraws: withdraws, correctedData: correctedData, today: today) {
                case .failure(let refusals): return .refused(refusals.all, byLog: true)
                case .success(let amended): checked = amended
                }
            }
            // Who may record an amendment depends on the record it amends, found in the log; and a
            // record already in the log is not refused at all, which only a pass that asked the
            // log about ids can tell.
            if let refusal = rule.permits(candidate.type, checked) {
                let amends = if case .amends = checked.rule { true } else { false }
                return .refused([refusal], byLog: amends || !facts.askedIDs)
            }

            let referenceRefusals = refusals(of: checked.references)
            guard referenceRefusals.isEmpty else { return .refused(referenceRefusals, byLog: true) }
            if let planAction = checked.planAction {
                let actions = facts.planActions[checked.streamID] ?? []
                guard actions.contains(planAction.actionID) else {
                    return .refused(
                        [
                            Refusal(
                                "action_id",
                                "safety plan '\(planAction.planID)' has no action '\(planAction.actionID)'; its actions are \(actions.joined(separator: ", "))"
                            )
                        ], byLog: true)
                }
            }

            switch checked.rule {
            case .none, .amends:
                return .append(checked, expected: .any)
            case .register(let what, let field):
                guard !facts.registered.contains(checked.streamID) else {
                    return .refused([StreamRule.alreadyRegistered(what, field: field)], byLog: true)
                }
                return .append(checked, expected: .noStream)
            case .engagementStage(let stage):
                let head = facts.stages[checked.streamID]
                guard stage.mayFollow(head?.stage) else {
                    return .refused([StreamRule.stageGoesBack(from: head!.stage!, to: stage)], byLog: true)
                }
                return .append(checked, expected: (head?.version ?? 0) > 0 ? .exactly(head!.version) : .noStream)
            }
        }

        /// The log moved on by an accepted candidate, as the next candidates see it.
        mutating func accept(_ candidate: Candidate, as checked: CheckedRecord) {
            accepted[candidate.recordID] = (candidate.type.name, checked)
            switch checked.rule {
            case .register:
                facts.registered.insert(checked.streamID)
                facts.owners[checked.streamID] = .some(checked.authorityID)
                if candidate.type.name == RecordType.safetyPlanAgreed.name {
                    facts.planActions[checked.streamID] = CrossRecordRules.actionIDs(of: candidate.data)
                }
            case .engagementStage(let stage):
                let version = facts.stages[checked.streamID]?.version ?? 0
                facts.stages[checked.streamID] = (version + 1, stage)
            case .amends(let target, let withdraws, _):
                if withdraws { withdrawn.insert(target) }
                if var stage = facts.stages[checked.streamID] {
                    stage.version += 1
                    facts.stages[checked.streamID] = stage
                }
            case .none:
                break
            }
        }

        /// What is wrong with each reference, seen from the log and the batch so far.
        mutating func refusals(of references: [Reference]) -> [Refusal] {
            var found: [Refusal] = []
            for reference in references where !passed.contains(reference) {
                if let refusal = reference.refusal(owners: facts.owners, sees: rule.sees) { found.append(refusal) } else { passed.insert(reference) }
            }
            return found
        }

        /// The record an amendment names, checked to take it; for a correction, its data checked
        /// as the original record type would. Where the amendment goes: the original's stream.
        mutating func amendment(of recordID: String, withdraws: Bool, correctedData: JSONObject?, today: CalendarDate) -> Result<
            CheckedRecord, Refusals
        > {
            let original: (stream: String, type: String, authority: String?, occurredOn: CalendarDate?)
            let wasWithdrawn: Bool
            if let found = accepted[recordID] {
                original = (found.checked.streamID, found.type, found.checked.authorityID, found.checked.occurredOn)
                wasWithdrawn = withdrawn.contains(recordID)
            } else if let found = facts.recorded[recordID] {
                original = (found.event.streamID, found.event.type, found.event.authorityID, found.event.occurredOn)
                wasWithdrawn = found.withdrawn || withdrawn.contains(recordID)
            } else {
                return .failure(Refusals([CrossRecordRules.noRecord(recordID)]))
            }
            // Another authority's record is answered as one that does not exist.
            guard rule.sees(original.authority) else { return .failure(Refusals([CrossRecordRules.noRecord(recordID)])) }
            guard let type = RecordType.all[original.type], type.isAmendable else {
                return .failure(
                    Refusals([
                        Refusal(
                            "record_id",
                            "'\(recordID)' is a \(original.type.replacingOccurrences(of: "_", with: " ")); correct or withdraw the original record instead"
                        )
                    ]))
            }
            guard !wasWithdrawn else {
                return .failure(
                    Refusals([
                        Refusal(
                            "record_id", "'\(recordID)' was withdrawn; a withdrawn record cannot be \(withdraws ? "withdrawn again" : "corrected")")
                    ]))
            }
            guard let correctedData else {
                return .success(
                    CheckedRecord(
                        streamID: original.stream, authorityID: original.authority, occurredOn: original.occurredOn,
                        references: [], rule: .amends(recordID: recordID, withdraws: true, correctedData: nil)))
            }
            let corrected: CheckedRecord
            switch type.checkFields(correctedData, id: recordID, today: today, path: "data") {
            case .failure(let refusals): return .failure(refusals)
            case .success(let checked): corrected = checked
            }
            // A correction keeps the authority of the record it corrects.
            guard corrected.authorityID == original.authority else {
                return .failure(
                    Refusals([
                        Refusal(
                            "data.la_id",
                            "a correction keeps the authority of the record it corrects ('\(original.authority ?? "the whole programme")'), not '\(corrected.authorityID ?? "none")'; to record it for another authority, withdraw it and record it anew"
                        )
                    ]))
            }
            guard corrected.streamID == original.stream else {
                return .failure(
                    Refusals([
                        Refusal(
                            "data",
                            "a correction cannot move '\(recordID)' to another \(original.stream.split(separator: ":").first ?? "record"); withdraw it and record it anew"
                        )
                    ]))
            }
            let referenceRefusals = refusals(
                of: corrected.references.map { reference in
                    var reference = reference
                    reference.field = "data." + reference.field
                    return reference
                })
            guard referenceRefusals.isEmpty else { return .failure(Refusals(referenceRefusals)) }
            return .success(
                CheckedRecord(
                    streamID: original.stream, authorityID: original.authority,
                    occurredOn: corrected.occurredOn ?? original.occurredOn,
                    references: [], rule: .amends(recordID: recordID, withdraws: false, correctedData: correctedData)))
        }
    }
}
