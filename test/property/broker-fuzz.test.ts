/**
 * Fuzzes the running broker: after a real handshake, random streams of well-framed and malformed
 * frames are written to one connection. Whatever happens to that connection, the broker process
 * must not crash and a second, well-behaved connection must keep publishing and consuming.
 */
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, RawAmqpClient, frame } from '../helpers/raw-amqp.js';
import { assertRoundTrip } from '../helpers/checks.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** Class/method ids the server accepts from clients, so mutations reach deep into the method handlers. */
const KNOWN_METHODS: [number, number][] = [
  [20, 10], [20, 20], [20, 40], [20, 41], [40, 10], [40, 20], [40, 30], [40, 40], [50, 10], [50, 20], [50, 30],
  [50, 40], [50, 50], [60, 10], [60, 20], [60, 30], [60, 40], [60, 70], [60, 80], [60, 90], [60, 100], [60, 110],
  [60, 120], [85, 10], [90, 10], [90, 20], [90, 30], [10, 50], [10, 51], [999, 1],
];

const methodFrame = fc
  .tuple(fc.constantFrom(...KNOWN_METHODS), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 40 }))
  .map(([[classId, methodId], channel, args]) => {
    const payload = Buffer.alloc(4 + args.length);
    payload.writeUInt16BE(classId, 0);
    payload.writeUInt16BE(methodId, 2);
    Buffer.from(args).copy(payload, 4);
    return frame(FRAME_METHOD, channel, payload);
  });

const otherFrame = fc
  .tuple(fc.constantFrom(FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT, 4, 0), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 30 }))
  .map(([type, channel, payload]) => frame(type, channel, Buffer.from(payload)));

const garbage = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bytes) => Buffer.from(bytes));

const stream = fc.array(fc.oneof({ weight: 5, arbitrary: methodFrame }, { weight: 2, arbitrary: otherFrame }, { weight: 1, arbitrary: garbage }), {
  minLength: 1,
  maxLength: 12,
});


test('random frame streams never crash the broker or disturb other connections', async () => {
  await fc.assert(
    fc.asyncProperty(stream, async (frames) => {
      const client = await RawAmqpClient.open(broker.port);
      await client.openChannel(1);
      for (const bytes of frames) client.write(bytes);
      // Give the broker time to react; then hang up whatever state the connection is in.
      await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 30))]);
      client.socket.destroy();
      await client.closed;
      await assertRoundTrip(broker.url);
    }),
    { numRuns: 80 },
  );
});
