import Foundation
import HTTPTypes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The proxies whose word on the client's address is taken (`REACH_TRUSTED_PROXIES`: addresses
/// or networks such as `127.0.0.1, 10.0.0.0/8, ::1`), and the client's address by them.
///
/// Behind a TLS proxy every request comes from the proxy's address, and the client's is in
/// `X-Forwarded-For`, which anyone else can write too. So the header is read only when the
/// request comes from a listed proxy, from its right end (the entry the last proxy added)
/// leftwards, passing over listed proxies: the first address that is not one is the client's.
/// With no list, the header is ignored and the peer's address is the client's.
public struct TrustedProxies: Sendable, Hashable {
    /// A network: its address's bytes and the length of its prefix in bits.
    struct Network: Sendable, Hashable {
        var bytes: [UInt8]
        var prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var bits = prefix
            for index in bytes.indices where bits > 0 {
                let take = min(bits, 8)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
                if bytes[index] & mask != address[index] & mask { return false }
                bits -= take
            }
            return true
        }
    }

    var networks: [Network]

    /// No proxy is trusted.
    public static let none = TrustedProxies(networks: [])

    init(networks: [Network]) { self.networks = networks }

    /// The list as `REACH_TRUSTED_PROXIES` gives it (separated by commas or spaces); an entry
    /// that is not an address or a network is refused, naming it.
    public init(_ text: String) throws {
        var networks: [Network] = []
        for entry in text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) where !entry.isEmpty {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.bytes(of: parts[0]) else {
                throw TrustedProxiesError("REACH_TRUSTED_PROXIES: '\(entry.prefix(60))' is not an IP address or a network such as 10.0.0.0/8")
            }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard let given = Int(parts[1]), (0...bytes.count * 8).contains(given) else {
                    throw TrustedProxiesError(
                        "REACH_TRUSTED_PROXIES: '\(entry.prefix(60))' has a prefix length that is not from 0 to \(bytes.count * 8)")
                }
                prefix = given
            }
            networks.append(Network(bytes: bytes, prefix: prefix))
        }
        self.networks = networks
    }

    /// Whether `address` is a listed proxy's.
    public func trusts(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client's address, as the limits on guessing count it: the peer's, or, when the peer
    /// is a listed proxy, the last address in `X-Forwarded-For` that is not a listed proxy's.
    /// An IPv4 address is counted as it is; an IPv6 one by its /64 network (one host is given
    /// a whole /64 to choose addresses from). A port or brackets around an entry are dropped.
    public func client(peer: String?, forwardedFor: [String]) -> String {
        guard let peer, let peerBytes = Self.bytes(of: Self.bare(peer)) else { return "unknown" }
        guard networks.contains(where: { $0.contains(peerBytes) }) else { return Self.counted(peerBytes) }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { Self.bare($0.trimmingCharacters(in: .whitespaces)) }
        var client = peerBytes
        for hop in hops.reversed() {
            guard let bytes = Self.bytes(of: hop) else { break } // not an address: nothing left of it is to be believed
            client = bytes
            if !networks.contains(where: { $0.contains(bytes) }) { break }
        }
        return Self.counted(client)
    }

    /// An entry without the brackets or port a proxy may write around an address
    /// (`[2001:db8::1]:443`, `192.0.2.1:5678`).
    static func bare(_ text: String) -> String {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { return String(text[text.index(after: text.startIndex)..<close]) }
        if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") { return String(text[..<colon]) }
        return text
    }

    /// How an address is counted: IPv4 as it is, IPv6 by its /64.
    static func counted(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    /// An address's bytes (4 for IPv4, 16 for IPv6; an IPv4 address mapped into IPv6 is taken
    /// as the IPv4 one), or nil when it is not an address.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes[12...]) }
            return bytes
        }
        return nil
    }
}

/// A list of trusted proxies that cannot be read.
public struct TrustedProxiesError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
