/**
 * Task ids: UUID version 7 (RFC 9562), a millisecond timestamp followed by random bits. Ids of tasks
 * submitted one after another sort together, so a result store's indexes on the id take each new task
 * near the previous one (random v4 ids touch a random index page per task), and ids still never repeat.
 *
 * An id is written as ASCII into one reused buffer and read out as one string: crypto.randomUUID builds
 * its text by concatenating two hex digits at a time, some 20 intermediate strings (about 0.6 KB of
 * garbage per id, which a busy submitter's scavenges pay for), and the v7 id was a further slice and
 * concatenation of that.
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes drawn at once (one system call per 409 ids), used up 10 per id. */
const RANDOM_POOL_BYTES = 4096;
const RANDOM_BYTES_PER_ID = 10;
const ID_LENGTH = 36;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 0x2d;

const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;

/** The id being written: its first 15 characters (the time part and the version) change once per millisecond, its dashes never. */
const text = Buffer.alloc(ID_LENGTH);
text[18] = DASH;
text[23] = DASH;
let textMs = Number.NaN;

/** Writes `byte` at `at` as two lower-case hex digits, low nibble first (both are random). */
function writeHexByte(at: number, byte: number): void {
  text[at] = HEX_DIGITS[byte & 15] as number;
  text[at + 1] = HEX_DIGITS[byte >> 4] as number;
}

/** A new task id: a lower-case UUID v7 string (`tttttttt-tttt-7rrr-Vrrr-rrrrrrrrrrrr`, V one of 8, 9, a, b). */
export function newTaskId(now: number = Date.now()): string {
  if (now !== textMs) {
    const time = now.toString(16).padStart(12, '0');
    text.write(`${time.slice(0, 8)}-${time.slice(8, 12)}-7`, 0, 'latin1');
    textMs = now;
  }
  if (randomOffset + RANDOM_BYTES_PER_ID > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const random = randomPool;
  const at = randomOffset;
  randomOffset += RANDOM_BYTES_PER_ID;
  // 74 random bits: rand_a (12 bits, characters 15-17), the variant's two free bits, rand_b's other 60.
  const second = random[at + 1] as number;
  writeHexByte(15, random[at] as number);
  text[17] = HEX_DIGITS[second & 15] as number;
  text[19] = HEX_DIGITS[8 | ((second >> 4) & 3)] as number;
  writeHexByte(20, random[at + 2] as number);
  text[22] = HEX_DIGITS[(random[at + 3] as number) & 15] as number;
  for (let byte = 4, position = 24; position < ID_LENGTH; byte++, position += 2) writeHexByte(position, random[at + byte] as number);
  return text.toString('latin1', 0, ID_LENGTH);
}
