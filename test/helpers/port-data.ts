// Deterministic bytes that both ends of a port test can produce: 64 MiB in
// 64 KiB blocks, block i filled from sha256("block i") repeated.
import { createHash } from 'node:crypto';

export const SOURCE_BLOCK_SIZE = 64 << 10;
export const SOURCE_BLOCKS = 1024;

export function deterministicBlock(i: number): Buffer {
  const seed = createHash('sha256').update(`block ${i}`).digest();
  const b = Buffer.allocUnsafe(SOURCE_BLOCK_SIZE);
  for (let off = 0; off < b.length; off += seed.length) seed.copy(b, off);
  return b;
}

/** sha256 of the whole 64 MiB stream. */
export function deterministicSha(): string {
  const h = createHash('sha256');
  for (let i = 0; i < SOURCE_BLOCKS; i++) h.update(deterministicBlock(i));
  return h.digest('hex');
}
