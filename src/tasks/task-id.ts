/**
 * Task ids: UUID version 7 (RFC 9562), a millisecond timestamp followed by random bits. Ids of tasks
 * submitted one after another sort together, so a result store's indexes on the id take each new task
 * near the previous one (random v4 ids touch a random index page per task), and ids still never repeat.
 */
import { randomUUID } from 'node:crypto';

/** The time part of the ids of one millisecond, made once: formatting a timestamp in hex costs more than the rest of an id. */
let prefixMs = Number.NaN;
let prefix = '';

/** A new task id: a lower-case UUID v7 string. */
export function newTaskId(now: number = Date.now()): string {
  if (now !== prefixMs) {
    const time = now.toString(16).padStart(12, '0');
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
    prefixMs = now;
  }
  // A v4 UUID supplies the random part, already with the RFC variant bits; its version digit is replaced.
  return prefix + randomUUID().slice(15);
}
