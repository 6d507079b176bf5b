/// The reason for an unknown key: the allowed ones, and the likely intended one when a typo is near or
/// the key is a name that was once accepted (`renamed` says what to write instead).
enum KeySuggestion {
    static func unknownKeyReason(_ key: String, allowed: [String], renamed: [String: String] = [:]) -> String {
        let hint = renamed[key] ?? closest(to: key, in: allowed).map { "did you mean \($0)?" }
        return "is not a known key\(hint.map { " (\($0))" } ?? ""); expected one of: \(allowed.joined(separator: ", "))"
    }

    /// Case and `-` for `_` are always forgiven in a hint; otherwise at most two edits, and no more than
    /// half the key, so that short keys do not suggest unrelated ones.
    static func closest(to key: String, in allowed: [String]) -> String? {
        func normalized(_ text: String) -> String { String(text.lowercased().map { $0 == "-" ? "_" : $0 }) }
        if let same = allowed.first(where: { normalized($0) == normalized(key) }) { return same }
        let scored = allowed.map { (candidate: $0, distance: editDistance(Array(key), Array($0))) }
        guard let best = scored.min(by: { $0.distance < $1.distance }),
              best.distance <= 2, best.distance * 2 <= key.count else { return nil }
        return best.candidate
    }

    /// Levenshtein, one row at a time.
    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, left) in a.enumerated() {
            var current = [i + 1]
            for (j, right) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (left == right ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
