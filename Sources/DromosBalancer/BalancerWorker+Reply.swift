public import DromosWire

extension BalancerWorker {
    /// Answers an ARP request or a neighbor solicitation for an announced VIP in place: the question's
    /// bytes become the answer (same VLAN tags, back to the asker), so the worker sends the frame it
    /// received and nothing is allocated. Nil when the frame is no such question, or no answer can be
    /// written: no MAC of our own is known, or a solicitation without room for the advertisement (a DAD
    /// probe with no options; it is left to the kernel, which ignores it for an address it lacks).
    @usableFromInline
    func answerNeighbor(_ parsed: inout ParsedFrame, frame: UnsafeMutableRawBufferPointer) -> Decision? {
        guard parsed.status == .ok, !parsed.isCaptureTruncated else { return nil }
        if let request = parsed.arp {
            let vip = IPAddress.v4(request.targetIP)
            guard request.operation == ARPMessage.request, !request.isGratuitous, view.announces(vip),
                  let mac = ownMAC(parsed) else { return nil }
            // The request's fields are copied out before the frame is overwritten.
            let written = ARPFrame.write(request.reply(from: mac), framing: EthernetFraming(replyingTo: parsed, from: mac), into: frame)
            return written > 0 ? Decision(.reply, .arpReply, serviceIndex: view.lookupVIP(vip)) : nil
        }
        guard parsed.l3 == .ipv6,
              case .message(let solicitation) = NeighborDiscovery.parse(UnsafeRawBufferPointer(frame), parsed),
              solicitation.isSolicitation, view.announces(.v6(solicitation.target)), let mac = ownMAC(parsed) else { return nil }
        let answer = solicitation.advertisement(from: mac)
        var framing = EthernetFraming(replyingTo: parsed, from: mac)
        if answer.destination.isMulticast { framing.destination = .ipv6Multicast(answer.destination) }
        guard NDPFrame.write(answer, framing: framing, into: frame) > 0 else { return nil }
        return Decision(.reply, .ndpReply, serviceIndex: view.lookupVIP(.v6(solicitation.target)))
    }

    /// The configured source MAC, else the address a unicast question was sent to (ours); a broadcast or
    /// multicast question without a configured MAC cannot be answered.
    @inlinable
    func ownMAC(_ parsed: ParsedFrame) -> MACAddress? {
        if let sourceMAC { return sourceMAC }
        return parsed.destinationMAC.isMulticast ? nil : parsed.destinationMAC
    }
}
