import COpenSSL
import Foundation
import ReachPostgres

/// A signed statement of the log as it stood: every stream's head (its version and the hash of
/// its last event) and the last position, signed with an Ed25519 key kept outside the database.
///
/// The hash chains show any change to an event that was not re-chained, but whoever controls
/// the database (its owner, a superuser) can delete a stream's tail or a whole stream, or
/// rewrite and re-chain it, and the chains then hold. A seal kept elsewhere catches that: what
/// it covers must still be there, byte for byte (`EventLog.verify(against:on:)`).
public struct Seal: Sendable, Hashable {
    /// A stream as sealed.
    public struct Head: Sendable, Hashable {
        public var streamID: String
        public var version: Int64
        /// Its last event's hash, in hex.
        public var hash: String
    }

    public var sealedAt: String
    public var lastPosition: Int64
    public var heads: [Head]
    /// The Ed25519 public key that signed it, and the signature, in hex.
    public var publicKey: String
    public var signature: String

    /// The bytes signed: the statement, without its signature, as compact JSON.
    var statement: [UInt8] {
        var writer = JSONWriter(.compact(sortedKeys: false), capacity: 64 + heads.count * 120)
        writer.beginObject()
        writer.key("sealed_at"); writer.string(sealedAt)
        writer.key("last_position"); writer.number(token: String(lastPosition))
        writer.key("public_key"); writer.string(publicKey)
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
              case .array(let streams)? = fields["streams"] else {
            throw SealError("the file is not a seal of the log")
        }
        var heads: [Head] = []
        for stream in streams {
            guard case .array(let parts) = stream, parts.count == 3, case .string(let id) = parts[0],
                  case .number(let version) = parts[1], case .string(let hash) = parts[2], let whole = Int64(exactly: version) else {
                throw SealError("the file is not a seal of the log: a stream is not [id, version, hash]")
            }
            heads.append(Head(streamID: id, version: whole, hash: hash))
        }
        guard let lastPosition = Int64(exactly: last) else { throw SealError("the file is not a seal of the log") }
        self.init(sealedAt: sealedAt, lastPosition: lastPosition, heads: heads, publicKey: publicKey, signature: signature)
    }

    init(sealedAt: String, lastPosition: Int64, heads: [Head], publicKey: String, signature: String) {
        (self.sealedAt, self.lastPosition, self.heads, self.publicKey, self.signature) = (sealedAt, lastPosition, heads, publicKey, signature)
    }

    /// Whether the signature is the key's over the statement; `publicKey`, when given, must be
    /// the key that signed (the operator's own record of it).
    public func verified(publicKey expected: String? = nil) throws {
        if let expected, expected.lowercased() != publicKey.lowercased() {
            throw SealError("the seal was signed by another key than the one given")
        }
        guard let key = Hex.decode(publicKey.utf8), let signature = Hex.decode(signature.utf8),
              Ed25519.verify(signature, of: statement, publicKey: key) else {
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
              EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else {
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
    /// A seal of the log as it stands now, signed with `privateKey`.
    public static func seal(privateKey: [UInt8], on connection: Connection) throws -> Seal {
        try connection.withTransaction(isolation: "REPEATABLE READ") { connection in
            let top = try connection.query("""
                SELECT coalesce(max("position"), 0), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM reach.events
                """)
            let heads = try connection.query("""
                SELECT DISTINCT ON (stream_id) stream_id, version, encode(hash, 'hex')
                FROM reach.events ORDER BY stream_id, version DESC
                """).mapRows { Seal.Head(streamID: try $0.decode(0), version: try $0.decode(1), hash: try $0.decode(2)) }
            var seal = Seal(sealedAt: try top.decode(row: 0, column: 1), lastPosition: try top.decode(row: 0, column: 0), heads: heads,
                            publicKey: Hex.encode(try Ed25519.publicKey(of: privateKey)), signature: "")
            seal.signature = Hex.encode(try Ed25519.sign(seal.statement, privateKey: privateKey))
            return seal
        }
    }

    /// Verifies the log (``verify(on:)``) and, with a seal, that everything it covers is still
    /// there as it was: each sealed stream still holds its sealed version with the sealed hash
    /// (so nothing up to it was deleted, truncated or rewritten, the chains holding the rest),
    /// and the log still reaches the sealed last position. The seal's signature is checked first.
    public static func verify(against seal: Seal, publicKey: String? = nil, on connection: Connection) throws -> VerifyReport {
        try seal.verified(publicKey: publicKey)
        var report = try verify(on: connection)
        guard report.ok else { return report }
        let found = try connection.query("""
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
                reason = now.map { "sealed at version \(version), the stream now ends at version \($0): events were deleted" }
                    ?? "sealed at version \(version), the stream is gone"
            } else {
                reason = "its event at the sealed version \(version) is not the one sealed: the stream was rewritten"
            }
            report.firstBroken = VerifyReport.BrokenEvent(position: try found.decodeIfPresent(row: 0, column: 2) ?? 0, streamID: stream,
                                                         version: version, reason: reason)
            return report
        }
        let last = try EventLog.size(on: connection).lastPosition ?? 0
        if last < seal.lastPosition {
            report.firstBroken = VerifyReport.BrokenEvent(position: last, streamID: "", version: 0,
                                                         reason: "sealed at position \(seal.lastPosition), the log now ends at \(last)")
        }
        return report
    }
}
