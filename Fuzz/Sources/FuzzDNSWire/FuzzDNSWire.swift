import DNSWire

/// libFuzzer entry point. For every input:
/// 1. decoding must end in a value or a `DNSWireError`, never a trap;
/// 2. a decoded message must encode, and decode again to an equal message;
/// 3. every decoded record must print and parse back to an equal record.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let message: DNSMessage
    do {
        message = try DNSMessage(decoding: bytes)
    } catch {
        return 0
    }
    let encoded: [UInt8]
    do {
        encoded = try message.encode()
    } catch where error.code == .noSpace {
        // Legal input can compress better than our fixed compression table.
        return 0
    } catch {
        fatalError("a decoded message did not encode: \(error)")
    }
    do {
        let again = try DNSMessage(decoding: encoded)
        guard again == message else { fatalError("round trip changed the message:\n\(message)\n\(again)") }
    } catch {
        fatalError("our own encoding did not decode: \(error)")
    }
    for record in message.answers + message.authority + message.additional {
        let line = record.description
        do {
            let parsed = try ResourceRecord(presentation: line)
            guard parsed == record else { fatalError("presentation round trip changed \(line) into \(parsed)") }
        } catch {
            fatalError("printed record does not parse: \(line): \(error)")
        }
    }
    return 0
}
