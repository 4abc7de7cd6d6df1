import COpenSSL
import Foundation
import ReachPostgres

/// A signed statement of the log as it stood at a settled position: every event up to that
/// position (a digest of each event's position and hash, by blocks of positions), every
/// stream's head (its version and the hash of its last event), and the position, signed with
/// an Ed25519 key kept outside the database.
///
/// The hash chains show any change to an event that was not re-chained, but whoever controls
/// the database (its owner, a superuser) can delete a stream's tail or a whole stream, rewrite
/// and re-chain it, or insert an event, in a stream of its own, at a position below the last
/// one, and the chains then hold. A seal kept elsewhere catches each: every event it covers
/// must still be there, at its position, byte for byte, and no other event may have joined
/// them (`EventLog.verify(against:on:)`).
///
/// The seal is taken at a settled position (``LogHorizon``): no transaction still running can
/// place an event below it, so an honest append never breaks a seal.
public struct Seal: Sendable, Hashable {
    /// A stream as sealed.
    public struct Head: Sendable, Hashable {
        public var streamID: String
        public var version: Int64
        /// Its last event's hash, in hex.
        public var hash: String
    }

    /// The events of a block of positions, `(upTo - blockSize, upTo]` (the last block ends at
    /// the seal's position): how many there are, and the SHA-256 of each one's position (eight
    /// bytes, big-endian) followed by its hash, in position order, in hex.
    public struct Block: Sendable, Hashable {
        public var upTo: Int64
        public var events: Int64
        public var digest: String
    }

    /// How many positions a block covers.
    public static let blockSize: Int64 = 100_000

    public var sealedAt: String
    public var lastPosition: Int64
    public var heads: [Head]
    /// Every event up to ``lastPosition``, block by block; nil in a seal made before seals
    /// covered every event (which covers the heads only).
    public var blocks: [Block]?
    /// The Ed25519 public key that signed it, and the signature, in hex.
    public var publicKey: String
    public var signature: String

    /// The bytes signed: the statement, without its signature, as compact JSON.
    var statement: [UInt8] {
        var writer = JSONWriter(.compact(sortedKeys: false), capacity: 64 + heads.count * 120)
        writer.beginObject()
        writer.key("sealed_at")
        writer.string(sealedAt)
        writer.key("last_position")
        writer.number(token: String(lastPosition))
        writer.key("public_key")
        writer.string(publicKey)
        writer.key("streams")
        writer.beginArray()
        for head in heads {
            writer.beginArray()
            writer.string(head.streamID)
            writer.number(token: String(head.version))
            writer.string(head.hash)
            writer.endArray()
        }
        writer.endArray()
        if let blocks {
            writer.key("block_size")
            writer.number(token: String(Self.blockSize))
            writer.key("blocks")
            writer.beginArray()
            for block in blocks {
                writer.beginArray()
                writer.number(token: String(block.upTo))
                writer.number(token: String(block.events))
                writer.string(block.digest)
                writer.endArray()
            }
            writer.endArray()
        }
        writer.endObject()
        return writer.out
    }

    /// The seal as a file: its statement and its signature, one JSON document.
    public var fileText: String {
        var text = String(decoding: statement.dropLast(), as: UTF8.self)
        text += #","signature":"\#(signature)"}"# + "\n"
        return text
    }

    /// A seal read back from its file; its signature is checked by ``verified()``.
    public init(fileText: String) throws {
        guard case .object(let fields) = try JSONValue.parse(fileText),
            case .string(let sealedAt)? = fields["sealed_at"], case .number(let last)? = fields["last_position"],
            case .string(let publicKey)? = fields["public_key"], case .string(let signature)? = fields["signature"],
            case .array(let streams)? = fields["streams"]
        else {
            throw SealError("the file is not a seal of the log")
        }
        var heads: [Head] = []
        for stream in streams {
            guard case .array(let parts) = stream, parts.count == 3, case .string(let id) = parts[0],
                case .number(let version) = parts[1], case .string(let hash) = parts[2], let whole = Int64(exactly: version)
            else {
                throw SealError("the file is not a seal of the log: a stream is not [id, version, hash]")
            }
            heads.append(Head(streamID: id, version: whole, hash: hash))
        }
        guard let lastPosition = Int64(exactly: last) else { throw SealError("the file is not a seal of the log") }
        var blocks: [Block]?
        if let listed = fields["blocks"] {
            guard case .array(let items) = listed, case .number(let size)? = fields["block_size"], size == Double(Self.blockSize) else {
                throw SealError("the file is not a seal of the log: its blocks are not [up_to, events, digest] of \(Self.blockSize) positions")
            }
            blocks = try items.map { item in
                guard case .array(let parts) = item, parts.count == 3, case .number(let upTo) = parts[0], case .number(let events) = parts[1],
                    case .string(let digest) = parts[2], let whole = Int64(exactly: upTo), let count = Int64(exactly: events)
                else {
                    throw SealError("the file is not a seal of the log: a block is not [up_to, events, digest]")
                }
                return Block(upTo: whole, events: count, digest: digest)
            }
        }
        self.init(sealedAt: sealedAt, lastPosition: lastPosition, heads: heads, blocks: blocks, publicKey: publicKey, signature: signature)
    }

    init(sealedAt: String, lastPosition: Int64, heads: [Head], blocks: [Block]?, publicKey: String, signature: String) {
        (self.sealedAt, self.lastPosition, self.heads, self.blocks, self.publicKey, self.signature) = (
            sealedAt, lastPosition, heads, blocks, publicKey, signature
        )
    }

    /// Whether the signature is the key's over the statement; `publicKey`, when given, must be
    /// the key that signed (the operator's own record of it).
    public func verified(publicKey expected: String? = nil) throws {
        if let expected, expected.lowercased() != publicKey.lowercased() {
            throw SealError("the seal was signed by another key than the one given")
        }
        guard let key = Hex.decode(publicKey.utf8), let signature = Hex.decode(signature.utf8),
            Ed25519.verify(signature, of: statement, publicKey: key)
        else {
            throw SealError("the seal's signature does not hold: the file was changed, or not made by reach events seal")
        }
    }
}

/// A seal that cannot be made, read or trusted.
public struct SealError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Ed25519 through OpenSSL's libcrypto (which libpq already brings).
public enum Ed25519 {
    /// A new private key (its 32 raw bytes).
    public static func newPrivateKey() throws -> [UInt8] {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else { throw SealError("OpenSSL has no Ed25519") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &key) == 1, let key else {
            throw SealError("OpenSSL could not make an Ed25519 key")
        }
        defer { EVP_PKEY_free(key) }
        var length = 32
        var bytes = [UInt8](repeating: 0, count: 32)
        guard EVP_PKEY_get_raw_private_key(key, &bytes, &length) == 1 else { throw SealError("OpenSSL could not give the key") }
        return bytes
    }

    /// The public key of a private key.
    public static func publicKey(of privateKey: [UInt8]) throws -> [UInt8] {
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, privateKey, privateKey.count) else {
            throw SealError("the key is not an Ed25519 private key")
        }
        defer { EVP_PKEY_free(key) }
        var length = 32
        var bytes = [UInt8](repeating: 0, count: 32)
        guard EVP_PKEY_get_raw_public_key(key, &bytes, &length) == 1 else { throw SealError("OpenSSL could not give the public key") }
        return bytes
    }

    /// The signature of `message` by `privateKey`.
    public static func sign(_ message: [UInt8], privateKey: [UInt8]) throws -> [UInt8] {
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, privateKey, privateKey.count) else {
            throw SealError("the key is not an Ed25519 private key")
        }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { throw SealError("OpenSSL could not sign") }
        defer { EVP_MD_CTX_free(context) }
        var length = 64
        var signature = [UInt8](repeating: 0, count: 64)
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1,
            EVP_DigestSign(context, &signature, &length, message, message.count) == 1
        else {
            throw SealError("OpenSSL could not sign")
        }
        return Array(signature.prefix(length))
    }

    /// Whether `signature` is `publicKey`'s over `message`.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicKey, publicKey.count) else { return false }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        return EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1
            && EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
    }
}

extension EventLog {
    /// A seal of the log as it stands now, up to its settled position, signed with
    /// `privateKey`. Waits (up to `maxWait`) for transactions that hold the horizon back.
    public static func seal(privateKey: [UInt8], maxWait: Duration = .seconds(30), on connection: Connection) throws -> Seal {
        let deadline = ContinuousClock.now + maxWait
        var horizon = LogHorizon()
        var settled: Int64?
        while settled == nil {
            settled = try horizon.settled(maxWaitMilliseconds: 1_000, on: connection)
            if settled == nil && ContinuousClock.now > deadline {
                throw SealError(
                    "a transaction of the log has been running for longer than \(maxWait): the log has no settled position to seal; try again once it ends"
                )
            }
        }
        let position = settled!
        return try connection.withTransaction(isolation: "REPEATABLE READ") { connection in
            let now = try connection.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
            let heads = try connection.query(
                """
                SELECT DISTINCT ON (stream_id) stream_id, version, encode(hash, 'hex')
                FROM reach.events WHERE "position" <= $1 ORDER BY stream_id, version DESC
                """, [position]
            ).mapRows { Seal.Head(streamID: try $0.decode(0), version: try $0.decode(1), hash: try $0.decode(2)) }
            var seal = Seal(
                sealedAt: try now.decode(row: 0, column: 0), lastPosition: position, heads: heads,
                blocks: try blocks(upTo: position, on: connection),
                publicKey: Hex.encode(try Ed25519.publicKey(of: privateKey)), signature: "")
            seal.signature = Hex.encode(try Ed25519.sign(seal.statement, privateKey: privateKey))
            return seal
        }
    }

    /// The log's events up to `position`, block by block (see ``Seal/Block``).
    static func blocks(upTo position: Int64, on connection: Connection) throws -> [Seal.Block] {
        var blocks: [Seal.Block] = []
        var start: Int64 = 0
        while start < position {
            let end = min(start + Seal.blockSize, position)
            let result = try connection.query(
                """
                SELECT count(*), encode(sha256(coalesce(string_agg(int8send("position") || hash, ''::bytea ORDER BY "position"), ''::bytea)), 'hex')
                FROM reach.events WHERE "position" > $1 AND "position" <= $2
                """, [start, end], prepared: true)
            blocks.append(Seal.Block(upTo: end, events: try result.decode(row: 0, column: 0), digest: try result.decode(row: 0, column: 1)))
            start = end
        }
        return blocks
    }

    /// Verifies the log (``verify(on:)``) and, with a seal, that everything it covers is still
    /// there as it was: each sealed stream still holds its sealed version with the sealed hash
    /// (so nothing up to it was deleted, truncated or rewritten, the chains holding the rest),
    /// every block of positions up to the sealed position holds exactly the events it held,
    /// each at its position with its hash (so no event was inserted, deleted or changed below
    /// the seal, in any stream), and the log still reaches the sealed position. The seal's
    /// signature is checked first.
    public static func verify(against seal: Seal, publicKey: String? = nil, on connection: Connection) throws -> VerifyReport {
        try seal.verified(publicKey: publicKey)
        var report = try verify(on: connection)
        guard report.ok else { return report }
        let found = try connection.query(
            """
            SELECT s.stream_id, s.version, e."position", encode(e.hash, 'hex') = s.hash,
                   (SELECT max(version) FROM reach.events c WHERE c.stream_id = s.stream_id)
            FROM unnest($1::text[], $2::int8[], $3::text[]) WITH ORDINALITY AS s(stream_id, version, hash, n)
            LEFT JOIN reach.events e ON e.stream_id = s.stream_id AND e.version = s.version
            WHERE e.event_id IS NULL OR encode(e.hash, 'hex') <> s.hash
            ORDER BY s.stream_id LIMIT 1
            """, [PostgresArray(seal.heads.map(\.streamID)), PostgresArray(seal.heads.map(\.version)), PostgresArray(seal.heads.map(\.hash))])
        if found.rowCount > 0 {
            let stream: String = try found.decode(row: 0, column: 0)
            let version: Int64 = try found.decode(row: 0, column: 1)
            let now = try found.decodeIfPresent(Int64.self, row: 0, column: 4)
            let reason: String
            if try found.decodeIfPresent(Int64.self, row: 0, column: 2) == nil {
                reason =
                    now.map { "sealed at version \(version), the stream now ends at version \($0): events were deleted" }
                    ?? "sealed at version \(version), the stream is gone"
            } else {
                reason = "its event at the sealed version \(version) is not the one sealed: the stream was rewritten"
            }
            report.firstBroken = VerifyReport.BrokenEvent(
                position: try found.decodeIfPresent(row: 0, column: 2) ?? 0, streamID: stream,
                version: version, reason: reason)
            return report
        }
        let last = try EventLog.size(on: connection).lastPosition ?? 0
        if last < seal.lastPosition {
            report.firstBroken = VerifyReport.BrokenEvent(
                position: last, streamID: "", version: 0,
                reason: "sealed at position \(seal.lastPosition), the log now ends at \(last)")
            return report
        }
        if let sealed = seal.blocks {
            let now = try connection.withTransaction(isolation: "REPEATABLE READ") { try blocks(upTo: seal.lastPosition, on: $0) }
            guard sealed.count == now.count else {
                report.firstBroken = VerifyReport.BrokenEvent(
                    position: seal.lastPosition, streamID: "", version: 0,
                    reason: "the seal's blocks do not cover its position \(seal.lastPosition)")
                return report
            }
            if let (was, current) = zip(sealed, now).first(where: { $0.0 != $0.1 }) {
                let from = max(was.upTo - Seal.blockSize, 0) + 1
                let change =
                    current.events > was.events
                    ? "an event was inserted"
                    : current.events < was.events ? "an event was deleted" : "an event was changed, or replaced by another"
                report.firstBroken = VerifyReport.BrokenEvent(
                    position: from, streamID: "", version: 0,
                    reason:
                        "the events at positions \(from) to \(was.upTo) are not those sealed (\(was.events) then, \(current.events) now): \(change) below the seal"
                )
            }
        }
        return report
    }
}
