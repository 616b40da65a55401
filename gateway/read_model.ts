import { orderView, type Balance, type CommandResult, type ExchangeState, type OrderView } from '../engine/index.js';

// What the gateway answers account queries from: open orders and balances as of the last
// committed batch. The engine's own state runs ahead of the journal while a batch commits (it
// applies the next batch meanwhile), so reading it directly could show an order that a crash would
// erase. This model starts from the recovered state (all committed) and then moves only on the
// events of committed batches.

export class AccountReadModel {
  private readonly openOrders = new Map<number, OrderView>();
  private readonly openOrderIdsByAccount = new Map<number, Set<number>>();
  private readonly balances = new Map<number, Map<string, Balance>>();
  private readonly owners = new Map<number, string>();

  constructor(state: ExchangeState) {
    for (const order of state.orders.values()) this.setOrder(orderView(order));
    for (const account of state.accounts) {
      if (account === null) continue;
      this.owners.set(account.id, account.owner);
      const balances = new Map<string, Balance>();
      for (const [currency, balance] of account.balances) balances.set(currency, { ...balance });
      this.balances.set(account.id, balances);
    }
  }

  /** Applies the events of committed commands, in order. */
  ingest(results: readonly CommandResult[]): void {
    for (const { events } of results) {
      for (const event of events) {
        if (event.kind === 'order') this.setOrder(event.order);
        else if (event.kind === 'balance') this.setBalance(event.accountId, event.currency, { available: event.availableUnits, reserved: event.reservedUnits, bonded: event.bondedUnits });
        else if (event.kind === 'account_created') this.owners.set(event.accountId, event.owner);
      }
    }
  }

  openOrder(orderId: number): OrderView | undefined {
    return this.openOrders.get(orderId);
  }

  /** The account's open and untriggered orders, oldest first. */
  openOrdersOf(accountId: number): OrderView[] {
    const ids = this.openOrderIdsByAccount.get(accountId);
    if (ids === undefined) return [];
    return [...ids].sort((a, b) => a - b).map((orderId) => this.openOrders.get(orderId)!);
  }

  balance(accountId: number, currency: string): Balance | undefined {
    return this.balances.get(accountId)?.get(currency);
  }

  owner(accountId: number): string {
    return this.owners.get(accountId) ?? '';
  }

  hasAccount(accountId: number): boolean {
    return this.owners.has(accountId);
  }

  private setOrder(order: OrderView): void {
    let ids = this.openOrderIdsByAccount.get(order.accountId);
    if (order.state === 'open' || order.state === 'untriggered') {
      this.openOrders.set(order.orderId, order);
      if (ids === undefined) this.openOrderIdsByAccount.set(order.accountId, (ids = new Set()));
      ids.add(order.orderId);
    } else {
      this.openOrders.delete(order.orderId);
      ids?.delete(order.orderId);
    }
  }

  private setBalance(accountId: number, currency: string, balance: Balance): void {
    let balances = this.balances.get(accountId);
    if (balances === undefined) this.balances.set(accountId, (balances = new Map()));
    balances.set(currency, balance);
  }
}
