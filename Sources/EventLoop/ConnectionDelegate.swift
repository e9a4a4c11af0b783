/// Callbacks of a `Connection`, on the loop thread. Any of them may call `close()`,
/// `send`, `pauseReading` and so on, on this or another connection.
public protocol ConnectionDelegate: AnyObject {
    /// New bytes are in `c.inbound`; consume what can be used from the front and leave the rest.
    func connectionDidRead(_ c: Connection)
    /// The outbound buffer fell below the low-water mark after having been over the high-water
    /// mark, or became empty after having waited for the socket.
    func connectionDidDrain(_ c: Connection)
    /// An outgoing connection is established.
    func connectionDidConnect(_ c: Connection)
    /// The TLS handshake begun by `startTLS` completed; a failed one closes the connection
    /// (`connectionDidClose` with an error whose `isTLS` is true).
    func connectionDidCompleteTLSHandshake(_ c: Connection)
    /// Called exactly once, after the fd has been unregistered and closed. `error` is nil for an
    /// orderly close (ours, or the peer's end of file once our output was flushed).
    /// Bytes not consumed yet are still in `c.inbound`.
    func connectionDidClose(_ c: Connection, error: IOError?)
}

extension ConnectionDelegate {
    public func connectionDidDrain(_ c: Connection) {}
    public func connectionDidConnect(_ c: Connection) {}
    public func connectionDidCompleteTLSHandshake(_ c: Connection) {}
}
