public import DromosBalancer
import DromosWire

/// Every problem found in one configuration, so that the operator can fix them all in one go.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The file as the operator named it.
    public var source: String
    /// In file order: each where the field it concerns starts.
    public var problems: [FieldProblem]

    public init(source: String, problems: [FieldProblem]) {
        self.source = source
        self.problems = problems
    }

    /// One per problem: `FILE: services[0].backends[1].weight: must be an integer from 0 to 65535, got "heavy"`.
    public var lines: [String] { problems.map { "\(source): \($0)" } }

    public var description: String { lines.joined(separator: "\n") }
}
