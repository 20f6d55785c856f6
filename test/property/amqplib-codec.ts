/**
 * amqplib's own generated codec (lib/defs.js), used as an independent reference implementation. The package's
 * exports map hides lib/, so it is loaded by path next to the package's entry point.
 */
import type { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The parts of amqplib/lib/defs.js the codec tests use. */
export interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(classId: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  decode(id: number, payload: Buffer): Record<string, unknown>;
  info(id: number): { name: string; args: { name: string; type: string }[] };
}

const require = createRequire(import.meta.url);

/** amqplib's defs module. */
export const amqplib = require(join(dirname(require.resolve('amqplib')), 'lib/defs.js')) as AmqplibDefs;
