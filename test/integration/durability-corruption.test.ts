/**
 * Issue 3 corruption tests: with a truncated last record, flipped bytes inside a record, or a missing
 * segment file, the broker still starts, keeps every intact message, and reports what it dropped.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, truncate, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import type { Logger } from '../../src/util/logger.js';

const inProcessOnly = { skip: process.env['WARREN_TEST_URL'] ? 'corrupts an in-process broker\'s files' : false };

/** A logger that keeps warnings so the test can check what recovery reported. */
function recordingLogger(warnings: string[]): Logger {
  const logger: Logger = {
    error: (context, message) => warnings.push(`${message} ${JSON.stringify(context)}`),
    warn: (context, message) => warnings.push(`${message} ${JSON.stringify(context)}`),
    info: () => {},
    debug: () => {},
    child: () => logger,
  };
  return logger;
}

async function start(dataDir: string, warnings: string[] = []): Promise<WarrenNode> {
  return startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } }, recordingLogger(warnings));
}

/** Fills a durable queue with persistent messages m0..m(count-1) and stops the broker; returns the segment files. */
async function prepare(dataDir: string, count: number, bodyBytes: number): Promise<string[]> {
  const node = await start(dataDir);
  const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('kept', { durable: true });
  for (let i = 0; i < count; i++) channel.sendToQueue('kept', Buffer.concat([Buffer.from(`m${i}:`), Buffer.alloc(bodyBytes, 97)]), { persistent: true });
  await channel.waitForConfirms();
  await connection.close();
  await node.close();
  const [queueDir] = await readdir(join(dataDir, 'queues'));
  assert.ok(queueDir !== undefined);
  const directory = join(dataDir, 'queues', queueDir);
  return (await readdir(directory)).filter((name) => name.endsWith('.seg')).sort().map((name) => join(directory, name));
}

async function recoveredIds(dataDir: string, warnings: string[]): Promise<number[]> {
  const node = await start(dataDir, warnings);
  try {
    const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
    const channel = await connection.createChannel();
    const ids: number[] = [];
    for (;;) {
      const message = await channel.get('kept', { noAck: true });
      if (message === false) break;
      ids.push(Number(message.content.toString().split(':')[0]?.slice(1)));
    }
    await connection.close();
    return ids;
  } finally {
    await node.close();
  }
}

/** Where the records of a segment file end: its zero-filled room (docs/storage.md) comes after. */
function endOfRecords(bytes: Buffer): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

test('a truncated last record is cut off and every earlier message kept', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-torn-'));
  try {
    const segments = await prepare(dataDir, 20, 100);
    const last = segments.at(-1) as string;
    // 30 bytes off the last record itself, not off the zeros the segment log writes ahead of its appends.
    await truncate(last, endOfRecords(await readFile(last)) - 30);
    const warnings: string[] = [];
    assert.deepEqual(await recoveredIds(dataDir, warnings), range(0, 19));
    assert.ok(warnings.some((line) => /truncat|torn/i.test(line)), `recovery reported the torn tail: ${warnings.join('\n')}`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('flipped bytes inside a record lose that record only', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-flip-'));
  try {
    const segments = await prepare(dataDir, 20, 100);
    const file = segments[0] as string;
    const bytes = await readFile(file);
    // Each record is 9 bytes of header plus about 115 of payload; byte 600 lies inside the fifth record's body.
    for (let i = 600; i < 604; i++) bytes[i] = (bytes[i] as number) ^ 0xff;
    await writeFile(file, bytes);
    const warnings: string[] = [];
    const ids = await recoveredIds(dataDir, warnings);
    assert.equal(ids.length, 19, `one record dropped, got ${ids.join(',')}`);
    assert.deepEqual(ids, range(0, 20).filter((id) => ids.includes(id)), 'the others kept, in order');
    assert.ok(warnings.some((line) => /dropped|corrupt|crc/i.test(line)), `recovery reported the dropped record: ${warnings.join('\n')}`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a missing segment file loses its messages only', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-missing-'));
  try {
    // About 3 MiB of messages: with 8 MiB segments that is one segment, so use bigger bodies to get several.
    const segments = await prepare(dataDir, 60, 400 * 1024);
    assert.ok(segments.length >= 3, `expected several segments, got ${segments.length}`);
    await rm(segments[1] as string);
    const warnings: string[] = [];
    const ids = await recoveredIds(dataDir, warnings);
    assert.ok(ids.length > 0 && ids.length < 60, `kept the other segments' messages, got ${ids.length}`);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'order kept');
    assert.ok(ids.includes(0) && ids.includes(59), 'the first and last segments survived');
    assert.ok(warnings.some((line) => /missing/i.test(line)), `recovery reported the missing segment: ${warnings.join('\n')}`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
