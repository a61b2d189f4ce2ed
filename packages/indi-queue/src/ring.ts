/**
 * A growable circular buffer: O(1) push at the tail, shift at the head and random access by offset
 * from the head. `Array.prototype.shift` is O(n) on large arrays, which turns a 10 000-item queue
 * drain quadratic; this keeps every operation constant time.
 * @internal
 */
export class Ring<T> {
  private buf: (T | undefined)[]
  private head = 0
  private mask: number
  /** Number of items held. */
  length = 0

  constructor(initialCapacity = 16) {
    let cap = 16
    while (cap < initialCapacity) cap *= 2
    this.buf = new Array<T | undefined>(cap)
    this.mask = cap - 1
  }

  push(item: T): void {
    if (this.length > this.mask) this.grow()
    this.buf[(this.head + this.length) & this.mask] = item
    this.length++
  }

  /** Removes and returns the head item. The caller checks `length` first. */
  shift(): T {
    const item = this.buf[this.head] as T
    // Clear the slot so the ring does not keep delivered items alive for the garbage collector.
    this.buf[this.head] = undefined
    this.head = (this.head + 1) & this.mask
    this.length--
    return item
  }

  /** The item `offset` places after the head. The caller checks the bound. */
  at(offset: number): T {
    return this.buf[(this.head + offset) & this.mask] as T
  }

  /** Replaces the item `offset` places after the head, keeping its position. */
  set(offset: number, item: T): void {
    this.buf[(this.head + offset) & this.mask] = item
  }

  clear(): void {
    this.buf.fill(undefined)
    this.head = 0
    this.length = 0
  }

  private grow(): void {
    const old = this.buf
    const cap = old.length
    const next = new Array<T | undefined>(cap * 2)
    for (let i = 0; i < cap; i++) next[i] = old[(this.head + i) & this.mask]
    this.buf = next
    this.head = 0
    this.mask = cap * 2 - 1
  }
}
