// Bugs are assertions, expected rejections are values (result_codes.ts). A broken invariant throws
// InvariantViolation; the sequencer then stops accepting commands rather than trade on corrupt state.

export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

/**
 * Throws InvariantViolation. Hot paths write `if (!condition) fail(\`…\`)` rather than
 * `assert(condition, \`…\`)`, so the message (bigints to text) is only built when it fails.
 */
export function fail(message: string): never {
  throw new InvariantViolation(message);
}
