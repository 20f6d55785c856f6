import { Buffer } from 'node:buffer';

/**
 * Copies buf[start, end) into its own memory. Decoded values outlive the transient frame payload, and small
 * Buffer.from/allocUnsafe copies are carved from Node's shared 8 KiB pool, so one long-lived value (say a
 * queued message's properties) would pin a whole pool slab; an unpooled allocation holds only its own bytes.
 */
export function copyBytes(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafeSlow(end - start);
  buf.copy(out, 0, start, end);
  return out;
}
