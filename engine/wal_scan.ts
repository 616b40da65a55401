// A check of SQLite's write-ahead log before SQLite reads it. SQLite treats the first frame whose
// checksum fails as the end of the log and drops it and every frame after it: right for a torn
// write at the tail, silent loss of committed transactions when the damage is in the middle.
// Damage in the middle shows itself: after the bad frame, later frames of the same WAL generation
// (same salts) still carry checksums that chain correctly. A torn tail has no such frame after it.
//
// Format (sqlite.org/fileformat2.html#walformat): a 32-byte header (magic, version, page size,
// checkpoint sequence, salt-1, salt-2, checksum-1, checksum-2), then frames of a 24-byte header
// (page number, database size on commit frames, salt-1, salt-2, checksum-1, checksum-2) and one
// page. Checksums are cumulative, over 32-bit words in the byte order the magic names.

const HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
const MAGIC_LITTLE_ENDIAN = 0x377f0682;
const MAGIC_BIG_ENDIAN = 0x377f0683;

export interface WalScan {
  /** Frames of the current generation (matching salts) found in the file. */
  frames: number;
  /** Index of the first frame SQLite would reject, or -1. */
  firstBadFrame: number;
  /** A frame after `firstBadFrame` whose salts and chained checksum are valid: damage, not a torn tail. */
  validFrameAfterBad: boolean;
  /** The header itself is damaged (SQLite would ignore the whole log). */
  badHeader: boolean;
}

export function scanWal(bytes: Uint8Array): WalScan {
  const scan: WalScan = { frames: 0, firstBadFrame: -1, validFrameAfterBad: false, badHeader: false };
  if (bytes.length < HEADER_BYTES) return scan;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const bigEndian = magic === MAGIC_BIG_ENDIAN;
  const pageBytes = view.getUint32(8);
  const headerSum = checksum(view, 0, 24, [0, 0], bigEndian);
  if ((magic !== MAGIC_LITTLE_ENDIAN && !bigEndian) || !isPageSize(pageBytes) || headerSum[0] !== view.getUint32(24) || headerSum[1] !== view.getUint32(28)) {
    scan.badHeader = bytes.length > HEADER_BYTES;
    return scan;
  }
  const salt1 = view.getUint32(16);
  const salt2 = view.getUint32(20);
  const frameBytes = FRAME_HEADER_BYTES + pageBytes;
  // The running checksum, and after a bad frame also the one its stored values would continue.
  let chains: [number, number][] = [headerSum];
  for (let offset = HEADER_BYTES, index = 0; offset + frameBytes <= bytes.length; offset += frameBytes, index++) {
    if (view.getUint32(offset + 8) !== salt1 || view.getUint32(offset + 12) !== salt2) {
      if (scan.firstBadFrame < 0) scan.firstBadFrame = index;
      continue;
    }
    scan.frames++;
    const stored: [number, number] = [view.getUint32(offset + 16), view.getUint32(offset + 20)];
    const valid = chains.some((chain) => {
      const sum = checksum(view, offset + FRAME_HEADER_BYTES, pageBytes, checksum(view, offset, 8, chain, bigEndian), bigEndian);
      return sum[0] === stored[0] && sum[1] === stored[1];
    });
    if (valid) {
      if (scan.firstBadFrame >= 0) scan.validFrameAfterBad = true;
      chains = [stored];
      continue;
    }
    if (scan.firstBadFrame < 0) scan.firstBadFrame = index;
    const computed = checksum(view, offset + FRAME_HEADER_BYTES, pageBytes, checksum(view, offset, 8, chains[0], bigEndian), bigEndian);
    chains = [stored, computed];
  }
  return scan;
}

/** SQLite's WAL checksum over `length` bytes (a multiple of 8) from `offset`, continuing `start`. */
function checksum(view: DataView, offset: number, length: number, start: [number, number], bigEndian: boolean): [number, number] {
  let s0 = start[0];
  let s1 = start[1];
  const littleEndian = !bigEndian;
  for (let position = offset; position < offset + length; position += 8) {
    s0 = (s0 + view.getUint32(position, littleEndian) + s1) >>> 0;
    s1 = (s1 + view.getUint32(position + 4, littleEndian) + s0) >>> 0;
  }
  return [s0, s1];
}

function isPageSize(bytes: number): boolean {
  return bytes >= 512 && bytes <= 65536 && (bytes & (bytes - 1)) === 0;
}
