import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import Testing

@Suite struct JSONReaderTests {
    @Test func readsEveryKindOfValue() throws {
        let value = try JSONReader.parse(#" {"a": [1, -2.5e1, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "c": {}} "#)
        #expect(value["a"] == .array([.number(1), .number(-25), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .string("x\"\\/\né😀"))
        #expect(value["c"] == .object([]))
    }

    @Test(arguments: [
        ("", "the text ends where a value should be"), ("{", "expected a quoted key"), ("{\"a\" 1}", "expected ':'"),
        ("[1 2]", "expected ',' or ']'"), ("01", "text after the value"), ("1.", "a digit must follow '.'"),
        ("\"a\u{01}\"", "control character"), ("\"\\x\"", "unknown escape"), ("\"\\ud800\"", "surrogate"),
        ("1e999", "number out of range"), ("{\"a\": 1, \"a\": 2}", "appears twice"), ("tru", "expected 'true'"),
        (String(repeating: "[", count: 40), "nested deeper than 32 levels"),
    ])
    func refusesWithTheReason(text: String, reason: String) {
        #expect { try JSONReader.parse(text) } throws: { "\($0)".contains(reason) }
    }

    @Test func refusesInvalidUTF8() {
        #expect { try JSONReader.parse([0x22, 0xFF, 0x22]) } throws: { "\($0)".contains("not valid UTF-8") }
    }

    /// Never traps: random bytes, and valid requests cut at every length or with one byte changed.
    @Test func anyBytesAreReadOrRefusedWithoutTrapping() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]:,"\/ \u0041e-+.0123456789truefalsn"#.utf8) + [0x00, 0x0A, 0xC3, 0xA9, 0xFF]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? JSONReader.parse(bytes)
        }
        let request = Array(#"{"command": "backend add", "service": "web", "address": "198.18.0.13", "weight": 2, "x": [1.5e3, null, true, "\u00e9"]}"#.utf8)
        for cut in 0...request.count { _ = try? JSONReader.parse(Array(request[..<cut])) }
        for index in request.indices {
            for replacement: UInt8 in [0x00, 0x22, 0x5C, 0x7B, 0x7D, 0xFF] {
                var changed = request
                changed[index] = replacement
                _ = try? JSONReader.parse(changed)
            }
        }
        #expect(throws: Never.self) { try JSONReader.parse(request) }
    }
}
