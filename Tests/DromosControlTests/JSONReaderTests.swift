import DromosControl
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
}
