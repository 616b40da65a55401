// Deribit-style request credits: each API key and each IP address has a bucket that refills at a
// steady rate up to a cap; every request spends its method's cost (order entry costs more than a
// read). An empty bucket answers 10028 too_many_requests. One mechanism serves HTTP requests and
// WebSocket frames alike (which is why this is not @fastify/rate-limit: that one sees HTTP routes
// only). Buckets are bounded in number: the oldest idle ones are forgotten first.

export interface RateLimitOptions {
  /** Credits refilled per second. */
  creditsPerSecond: number;
  /** Bucket size: the burst a client may spend at once. */
  creditsMax: number;
  /** Buckets kept at most (keys + addresses). */
  bucketsMax: number;
}

interface Bucket {
  credits: number;
  updatedMs: number;
}

export class CreditLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** The key touched last: the last in the map's order (eviction removes only the first). */
  private newestKey: string | undefined;

  constructor(private readonly options: RateLimitOptions) {}

  /** Spends `cost` credits of `key` if it has them. */
  take(key: string, cost: number, nowMs: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { credits: this.options.creditsMax, updatedMs: nowMs };
      this.evictIfFull();
      this.touch(key, bucket);
    } else {
      // Re-inserted: the map's order is least recently used first.
      if (key !== this.newestKey) {
        this.buckets.delete(key);
        this.touch(key, bucket);
      }
      const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
      bucket.credits = Math.min(this.options.creditsMax, bucket.credits + (elapsedMs * this.options.creditsPerSecond) / 1000);
      bucket.updatedMs = nowMs;
    }
    if (bucket.credits < cost) return false;
    bucket.credits -= cost;
    return true;
  }

  /** Puts `key` last in the map's order; a key that is last already stays (one client's burst). */
  private touch(key: string, bucket: Bucket): void {
    this.buckets.set(key, bucket);
    this.newestKey = key;
  }

  private evictIfFull(): void {
    if (this.buckets.size < this.options.bucketsMax) return;
    const oldest = this.buckets.keys().next().value;
    if (oldest !== undefined) this.buckets.delete(oldest);
  }
}
