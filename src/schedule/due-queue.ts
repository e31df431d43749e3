/**
 * A binary min-heap of entries by due time, the earlier-queued first among
 * equals: the walk runner's one queue, so that 10,000 waiting members cost an
 * array slot each and one timer, not a timer each.
 */

/** What the queue needs of an entry; it keeps `position` up to date. */
export interface Queued {
  dueAt: number;
  /** Tie-break: among entries due at the same time, the one queued first goes first. */
  order: number;
  /** Index in the heap; -1 when not queued. */
  position: number;
}

export class DueQueue<T extends Queued> {
  readonly #heap: T[] = [];
  #orders = 0;

  get size(): number {
    return this.#heap.length;
  }

  peek(): T | undefined {
    return this.#heap[0];
  }

  /** Queues `entry` at `dueAt`, or moves it there when already queued. */
  set(entry: T, dueAt: number): void {
    if (entry.position >= 0) this.delete(entry);
    entry.dueAt = dueAt;
    entry.order = this.#orders++;
    entry.position = this.#heap.length;
    this.#heap.push(entry);
    this.#up(entry.position);
  }

  delete(entry: T): void {
    const index = entry.position;
    if (index < 0) return;
    entry.position = -1;
    const last = this.#heap.pop();
    if (last === undefined || last === entry) return;
    this.#heap[index] = last;
    last.position = index;
    this.#down(index);
    this.#up(last.position);
  }

  /** Every queued entry, in no particular order. */
  entries(): readonly T[] {
    return this.#heap;
  }

  #before(a: T, b: T): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.order < b.order);
  }

  #swap(i: number, j: number): void {
    const a = this.#heap[i] as T;
    const b = this.#heap[j] as T;
    this.#heap[i] = b;
    this.#heap[j] = a;
    b.position = i;
    a.position = j;
  }

  #up(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.#before(this.#heap[child] as T, this.#heap[parent] as T)) return;
      this.#swap(child, parent);
      child = parent;
    }
  }

  #down(index: number): void {
    let parent = index;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let first = parent;
      if (left < this.#heap.length && this.#before(this.#heap[left] as T, this.#heap[first] as T)) first = left;
      if (right < this.#heap.length && this.#before(this.#heap[right] as T, this.#heap[first] as T)) first = right;
      if (first === parent) return;
      this.#swap(parent, first);
      parent = first;
    }
  }
}
