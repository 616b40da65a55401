import { fail } from './assert.js';

// An account's open orders (book orders and untriggered stops), in placement order: a doubly
// linked list threaded through the order records themselves. It replaced a Set of order ids, whose
// hash table every place and close wrote to and which V8 re-allocated as it grew and shrank (about
// 15% of what survived each young-generation GC in the engine benchmark). Adding and removing are a
// few pointer writes; iteration yields the ids in the order they were added, as the Set did, so
// snapshots (which store the ids in that order) are byte for byte what they were.

/** The two links an order record carries while it is on its account's list. */
export interface OpenOrderLinks {
  orderId: number;
  previousOpen: OpenOrderLinks | null;
  nextOpen: OpenOrderLinks | null;
}

export class OpenOrderList<Order extends OpenOrderLinks = OpenOrderLinks> implements Iterable<number> {
  private head: Order | null = null;
  private tail: Order | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Appends an order that is on no list. */
  add(order: Order): void {
    if (order.previousOpen !== null || order.nextOpen !== null || this.head === order) fail(`order ${order.orderId} is already on an open-order list`);
    order.previousOpen = this.tail;
    if (this.tail === null) this.head = order;
    else this.tail.nextOpen = order;
    this.tail = order;
    this.count++;
  }

  /** Unlinks an order that is on this list. */
  delete(order: Order): void {
    const previous = order.previousOpen as Order | null;
    const next = order.nextOpen as Order | null;
    if (previous === null ? this.head !== order : previous.nextOpen !== order) fail(`order ${order.orderId} is not on this open-order list`);
    if (previous === null) this.head = next;
    else previous.nextOpen = next;
    if (next === null) this.tail = previous;
    else next.previousOpen = previous;
    order.previousOpen = null;
    order.nextOpen = null;
    this.count--;
  }

  /** The orders, oldest first, as a new array (safe to change the list while going through it). */
  orders(): Order[] {
    const orders: Order[] = [];
    for (let order = this.head; order !== null; order = order.nextOpen as Order | null) orders.push(order);
    return orders;
  }

  *[Symbol.iterator](): Iterator<number> {
    for (let order = this.head; order !== null; order = order.nextOpen as Order | null) yield order.orderId;
  }
}
