// The engine adapter of the shared workload format (`/work/shared/bench/README.md`, "Adapter
// interface"): the small surface any replay harness drives an order book through. Engines are
// compared side by side through it, so every method sits inside the measured loop and must not
// add work of its own beyond translating arguments.

/** Side as in the workload: 0 = buy, 1 = sell. */
export type WorkloadSide = 0 | 1;

/** Time in force as in the workload: 0 = good till cancelled, 1 = immediate or cancel. */
export const WorkloadTimeInForce = { GoodTillCancelled: 0, ImmediateOrCancel: 1 } as const;
export type WorkloadTimeInForce = (typeof WorkloadTimeInForce)[keyof typeof WorkloadTimeInForce];

/** Called once per fill, in execution order; the price is the maker's. */
export type FillListener = (makerOrderId: number, takerOrderId: number, priceTicks: number, qtyLots: number) => void;

/** Called once per resting order, bids best to worst then asks best to worst, oldest first. */
export type RestingOrderVisitor = (side: number, orderId: number, priceTicks: number, qtyLots: number) => void;

/** The `# params` JSON of a workload file. Only `maxPrice` is required of it. */
export interface WorkloadParams {
  maxPrice: number;
  anchorMid?: number;
  [key: string]: unknown;
}

export interface EngineAdapter<Book = unknown> {
  readonly name: string;
  readonly version: string;
  /** A fresh, empty book for one instrument. */
  create(params: WorkloadParams): Book;
  limit(book: Book, orderId: number, side: number, priceTicks: number, qtyLots: number, timeInForce: number, onFill: FillListener): void;
  /** Fills what is available on the opposite side and drops the rest. */
  market(book: Book, orderId: number, side: number, qtyLots: number, onFill: FillListener): void;
  /** True when the order was resting. */
  cancel(book: Book, orderId: number): boolean;
  /**
   * Extension for the project's own amend workloads (`E` lines): changes a resting order's price
   * and/or quantity; a new price that crosses matches like a GTC limit. True when it was resting.
   * Engines without a modify leave it out.
   */
  amend?(book: Book, orderId: number, priceTicks: number, qtyLots: number, onFill: FillListener): boolean;
  bestBid(book: Book): number | null;
  bestAsk(book: Book): number | null;
  forEachResting(book: Book, visit: RestingOrderVisitor): void;
}
