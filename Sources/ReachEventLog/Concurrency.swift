import Foundation

/// Runs `body` over `count` items split into one contiguous part per core (at most one part
/// per `minimumPart` items), and returns each part's result in the parts' order.
public func concurrentParts<T: Sendable>(_ count: Int, minimumPart: Int = 1_000, _ body: @Sendable (Range<Int>) -> T) -> [T] {
    let results = ConcurrentResults<T>(count: partCount(count, minimumPart: minimumPart))
    forEachPart(count, minimumPart: minimumPart) { part, range in results.store(body(range), at: part) }
    return results.take()
}

extension Array where Element: Sendable {
    /// `map` on every core, for work that needs nothing but the element: the array is split
    /// into one contiguous part per core, and the results keep the elements' order.
    public func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        let results = ConcurrentResults<T>(count: count)
        withoutActuallyEscaping(transform) { transform in
            let parts = UncheckedSendable(value: (self, transform))
            forEachPart(count, minimumPart: 1_000) { _, range in
                let (elements, transform) = parts.value
                for index in range { results.store(transform(elements[index]), at: index) }
            }
        }
        return results.take()
    }
}

private func partCount(_ count: Int, minimumPart: Int) -> Int {
    min(ProcessInfo.processInfo.activeProcessorCount, max(1, count / max(1, minimumPart)))
}

/// Calls `body` with each part's number and range, the parts on threads of their own.
private func forEachPart(_ count: Int, minimumPart: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
    let parts = partCount(count, minimumPart: minimumPart)
    guard parts > 1 else { return body(0, 0..<count) }
    DispatchQueue.concurrentPerform(iterations: parts) { part in
        body(part, count * part / parts..<count * (part + 1) / parts)
    }
}

/// A value handed to worker threads that only read it. `@unchecked Sendable`: the value (an
/// array and a closure that are not `Sendable` as types) is only read by the workers, and
/// `concurrentPerform` returns only once every worker has ended, before the caller can change
/// or release it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value
}

/// Results written by worker threads, each to slots no other thread writes. `@unchecked
/// Sendable`: raw memory, whose slots each worker initializes in its own range only; `take`
/// reads them after `concurrentPerform` has returned, which orders every write before it.
/// (A task group would do the same with a result array per part and one more copy of every
/// result; this runs on every row of an import.)
final class ConcurrentResults<T>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<T>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
    }

    func store(_ value: T, at index: Int) { (slots + index).initialize(to: value) }

    /// The results, once every slot is stored (moved out, not copied).
    func take() -> [T] {
        guard count > 0 else { return [] }
        return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: slots, count: count)
            initialized = count
        }
    }

    deinit { slots.deallocate() } // every slot was moved out by `take`
}
