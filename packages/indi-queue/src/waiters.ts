/**
 * A pending call (a blocked `put`, `get`, iteration step or `publish`). It is its own abort
 * listener (`handleEvent`), so waiting costs one promise and one node, and no closure per signal.
 * @internal
 */
export abstract class Waiter {
  prev: Waiter | null = null
  next: Waiter | null = null
  list: WaitList<Waiter> | null = null
  signal: AbortSignal | undefined = undefined
  resolve!: (value: never) => void
  reject!: (reason: unknown) => void

  /** Installs the abort listener; called once the waiter is in its list. */
  arm(signal: AbortSignal | undefined): void {
    if (signal === undefined) return
    this.signal = signal
    signal.addEventListener('abort', this, { once: true })
  }

  /** Leaves the list and drops the abort listener: no reference to the signal or queue remains. */
  detach(): void {
    this.list?.remove(this)
    if (this.signal !== undefined) {
      this.signal.removeEventListener('abort', this)
      this.signal = undefined
    }
  }

  /** The abort listener. */
  handleEvent(): void {
    const reason = this.signal?.reason
    this.detach()
    this.reject(reason)
    this.aborted()
  }

  /** Called after an abort has removed this waiter: lets the queue serve the next waiter. */
  protected abstract aborted(): void
}

/**
 * A FIFO of waiters as a doubly linked list: O(1) append, removal from the head, and removal from
 * the middle when a waiter is aborted (10 000 aborts stay linear, not quadratic).
 * @internal
 */
export class WaitList<W extends Waiter> {
  head: W | null = null
  private tail: W | null = null
  length = 0

  push(w: W): void {
    w.list = this as unknown as WaitList<Waiter>
    w.prev = this.tail
    w.next = null
    if (this.tail === null) this.head = w
    else this.tail.next = w
    this.tail = w
    this.length++
  }

  remove(w: Waiter): void {
    if (w.list !== (this as unknown as WaitList<Waiter>)) return
    if (w.prev === null) this.head = w.next as W | null
    else w.prev.next = w.next
    if (w.next === null) this.tail = w.prev as W | null
    else w.next.prev = w.prev
    w.prev = null
    w.next = null
    w.list = null
    this.length--
  }
}
