// Test knobs from the environment: seeds, run counts and sizes that a person sets to replay or to
// run longer (each test's header names its own). Shared so that every test reads them one way.

/** The integer in environment variable `name`, or undefined when it is unset or empty; refuses anything else, or a value below `min`. */
export function readIntegerEnv(name: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer of at least ${min}, not '${text}'`);
  return value;
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)), so that a printed seed replays a run exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** A randomized test's seed: SEED from the environment (to replay a run), or a fresh random one. */
export function seedFromEnv(): number {
  return readIntegerEnv('SEED', 0) ?? Math.floor(Math.random() * 2 ** 31);
}
