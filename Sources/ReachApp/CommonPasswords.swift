import Foundation

/// Passwords that guessers try first, which no account may have: 145,062 common and breached
/// passwords, compared without regard to case (`Resources/common-passwords.txt`, one per line,
/// lower-cased; see `Resources/README.md` for where they come from and how the file is made).
public enum CommonPasswords {
    /// The list, read once, on first use.
    static let list: Set<String> = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            // Shipped with every build; should it be missing, no password passes rather than all.
            return []
        }
        var set = Set<String>(minimumCapacity: 150_000)
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) { set.insert(String(line)) }
        return set
    }()

    /// How many passwords the list holds.
    public static var count: Int { list.count }

    /// Whether the list could be read (a build without it refuses every new password).
    public static var isAvailable: Bool { !list.isEmpty }

    /// Whether `password` is on the list (compared lower-cased, as the list is kept).
    public static func contains(_ password: String) -> Bool {
        !isAvailable || list.contains(password.lowercased())
    }
}
