// The one place time enters the engine: the sequencer stamps each command with `nowMs()`. The state
// machine only ever sees those stamps, so replay reproduces time exactly.

export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
};

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private timeMs: number) {}

  nowMs(): number {
    return this.timeMs;
  }

  advance(ms: number): void {
    this.timeMs += ms;
  }

  set(timeMs: number): void {
    this.timeMs = timeMs;
  }
}
