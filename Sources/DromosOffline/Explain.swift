import DromosBalancer
public import DromosConfig
public import DromosIO
public import DromosWire
/// What Dromos would do with one frame and why, as `dromos explain` reports it.
public struct FrameExplanation {
    public var frameNumber: Int
    public var parsed: ParsedFrame
    public var verdict: String
    public var reason: String
    public var service: String?
    public var backend: IPAddress?
    public var destinationMAC: MACAddress?

    public init(frameNumber: Int, parsed: ParsedFrame, verdict: String, reason: String,
                service: String? = nil, backend: IPAddress? = nil, destinationMAC: MACAddress? = nil) {
        self.frameNumber = frameNumber
        self.parsed = parsed
        self.verdict = verdict
        self.reason = reason
        self.service = service
        self.backend = backend
        self.destinationMAC = destinationMAC
    }

    /// The brief's schema, keys in its order; `parse` is added last and names where the parser stopped.
    public var jsonLine: String {
        var line = JSONLine()
        line.add("frame", .int(frameNumber))
        line.add("verdict", .string(verdict))
        line.add("reason", .string(reason))
        line.add("vlan", .array(parsed.vlanIDs.map { .int(Int($0)) }))
        line.add("l3", .optionalString(parsed.l3.name))
        line.add("flow", flowValue)
        line.add("fragment", .string(parsed.fragment.name))
        line.add("service", .optionalString(service))
        line.add("backend", .optionalString(backend?.description))
        line.add("dst_mac", .optionalString(destinationMAC?.description))
        line.add("parse", .string(parsed.status.name))
        return line.encoded
    }

    private var flowValue: JSONValue {
        guard let flow = parsed.flow else { return .null }
        var object = JSONLine()
        object.add("src", .string(flow.source.description))
        object.add("dst", .string(flow.destination.description))
        object.add("proto", .int(Int(flow.ipProtocol)))
        object.add("sport", parsed.hasPorts ? .int(Int(flow.sourcePort)) : .null)
        object.add("dport", parsed.hasPorts ? .int(Int(flow.destinationPort)) : .null)
        return .object(object)
    }
}

/// Runs the pipeline over a capture and reports every frame, in order.
public enum Explainer {
    /// Without a configuration nothing is ours: every frame passes with `no-service`, and the parse is
    /// still reported in full.
    public static func explain(capture path: String, emit: (FrameExplanation) -> Void) throws(CaptureError) {
        let reader = try PcapFileReader(path: path)
        try reader.requireEthernet()
        var frameNumber = 0
        do {
            try reader.forEachFrame { (frame: CapturedFrame) in
                frameNumber += 1
                let parsed = FrameParser.parse(frame.bytes, wireLength: frame.wireLength)
                emit(FrameExplanation(frameNumber: frameNumber, parsed: parsed, verdict: "pass", reason: "no-service"))
            }
        } catch let error as CaptureError {
            throw error
        } catch {
            throw CaptureError(path: path, reason: "\(error)")
        }
    }

    /// With a configuration every frame goes through the balancer as `dromos run` would handle it.
    public static func explain(capture path: String, config: DromosConfig, emit: (FrameExplanation) -> Void) throws {
        let pipeline = try OfflinePipeline(config: config)
        let table = pipeline.table
        try pipeline.run(capture: path) { frame in
            let decision = frame.decision
            let forwarded = decision.verdict == .forward
            emit(FrameExplanation(
                frameNumber: frame.number, parsed: frame.parsed, verdict: decision.verdict.name, reason: decision.reasonName,
                service: decision.serviceIndex >= 0 ? table.serviceName(decision.serviceIndex) : nil,
                backend: decision.backendIndex >= 0 ? table.backendAddress(decision.backendIndex) : nil,
                destinationMAC: forwarded ? table.backendMAC(decision.backendIndex) : nil))
        }
    }
}
