/// A weak reference without the Swift runtime's side table. A `weak` reference gives its
/// object a side table for life, and from then on every retain and release of the object
/// takes the runtime's slow path: the server, clients and upstream connections are retained
/// several times per relayed transaction. Deferred callbacks (timers, Redis and resolver
/// answers) capture an owner's box instead and find `target` nil once the owner is gone:
/// the owner sets it at the end of its `init` and clears it in `deinit`. Loop thread only.
final class LoopWeak<Target: AnyObject> {
    unowned(unsafe) private var object: Target?
    private var alive = false

    var target: Target? {
        get { alive ? object : nil }
        set { object = newValue; alive = newValue != nil }
    }
}
