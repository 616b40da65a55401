// A binary min-heap of good-till-date expiries, ordered by (expiry time, order id) so that orders
// expiring at the same moment leave in an order that survives a snapshot and restore. Entries are
// parallel number arrays; each also keeps the order's arrival number, by which the book recognises
// stale entries (cancelled or moved orders) and drops them lazily when they reach the top.

export class ExpiryHeap {
  private readonly timesMs: number[] = [];
  private readonly orderIds: number[] = [];
  private readonly arrivals: number[] = [];
  private readonly slots: number[] = [];

  get size(): number {
    return this.timesMs.length;
  }

  peekTimeMs(): number {
    return this.timesMs[0];
  }

  peekArrival(): number {
    return this.arrivals[0];
  }

  peekSlot(): number {
    return this.slots[0];
  }

  push(timeMs: number, orderId: number, arrival: number, slot: number): void {
    this.timesMs.push(timeMs);
    this.orderIds.push(orderId);
    this.arrivals.push(arrival);
    this.slots.push(slot);
    this.siftUp(this.timesMs.length - 1);
  }

  pop(): void {
    const last = this.timesMs.length - 1;
    this.move(last, 0);
    this.timesMs.pop();
    this.orderIds.pop();
    this.arrivals.pop();
    this.slots.pop();
    if (last > 0) this.siftDown(0);
  }

  clear(): void {
    this.timesMs.length = 0;
    this.orderIds.length = 0;
    this.arrivals.length = 0;
    this.slots.length = 0;
  }

  /** Linear search, for validation only. */
  contains(slot: number, arrival: number): boolean {
    for (let index = 0; index < this.slots.length; index++) {
      if (this.slots[index] === slot && this.arrivals[index] === arrival) return true;
    }
    return false;
  }

  private isBefore(a: number, b: number): boolean {
    const timeA = this.timesMs[a];
    const timeB = this.timesMs[b];
    return timeA < timeB || (timeA === timeB && this.orderIds[a] < this.orderIds[b]);
  }

  private siftUp(index: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.isBefore(index, parent)) return;
      this.swap(index, parent);
      index = parent;
    }
  }

  private siftDown(index: number): void {
    const count = this.timesMs.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= count) return;
      const right = left + 1;
      const child = right < count && this.isBefore(right, left) ? right : left;
      if (!this.isBefore(child, index)) return;
      this.swap(index, child);
      index = child;
    }
  }

  private move(from: number, to: number): void {
    this.timesMs[to] = this.timesMs[from];
    this.orderIds[to] = this.orderIds[from];
    this.arrivals[to] = this.arrivals[from];
    this.slots[to] = this.slots[from];
  }

  private swap(a: number, b: number): void {
    const time = this.timesMs[a];
    const orderId = this.orderIds[a];
    const arrival = this.arrivals[a];
    const slot = this.slots[a];
    this.move(b, a);
    this.timesMs[b] = time;
    this.orderIds[b] = orderId;
    this.arrivals[b] = arrival;
    this.slots[b] = slot;
  }
}
