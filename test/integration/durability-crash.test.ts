/**
 * Issue 3 crash test: a broker in a child process is killed with SIGKILL while publishers send
 * persistent messages with confirms and a consumer acknowledges. After a restart on the same data
 * directory every confirmed message that was not acknowledged is delivered, and no message whose
 * acknowledgement was known to be durable comes back. Repeated over several kill points.
 *
 * An acknowledgement is "known durable" once a publish confirmed after it on the consumer's own
 * connection came back: confirms wait for the fsync round that also writes earlier ack records.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';

const QUEUE = 'crash-work';
/** A queue nobody consumes: everything confirmed into it must be there after each crash. */
const BACKLOG = 'crash-backlog';


/** A broker child process on an ephemeral port, and the URL to reach it (read from its start log line). */
interface ChildBroker {
  child: ChildProcess;
  url: string;
}

async function startBroker(dataDir: string): Promise<ChildBroker> {
  // Port 0 and the port read back from the log: a port picked beforehand could be taken by another test.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', '--amqp-port', '0', '--http-port', '0', '--bind', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`broker exited early:\n${output}`);
    const port = /"amqpPort":(\d+)/.exec(output)?.[1];
    if (port !== undefined) return { child, url: `amqp://guest:guest@127.0.0.1:${port}` };
    if (Date.now() > deadline) throw new Error(`broker did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Ledger {
  confirmed: Set<string>;
  /** Acks sent: the broker may or may not have processed them before it died. */
  acked: Set<string>;
  /** Acks known to be on disk. */
  durablyAcked: Set<string>;
}

/** Publishes persistent messages with confirms from several connections until the broker dies. */
async function publishUntilDeath(url: string, publisher: number, queue: string, ledger: Ledger): Promise<void> {
  const connection = await amqplib.connect(url);
  connection.on('error', () => {});
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => {});
  for (let i = 0; ; i++) {
    const body = `p${publisher}-${Date.now()}-${i}`;
    try {
      await new Promise<void>((resolve, reject) => {
        channel.sendToQueue(queue, Buffer.from(body), { persistent: true }, (error) => (error ? reject(error) : resolve()));
      });
    } catch {
      return;
    }
    ledger.confirmed.add(body);
  }
}

/** Consumes and acks; every so often proves the acks so far durable with a confirmed publish. */
async function consumeUntilDeath(url: string, ledger: Ledger): Promise<void> {
  const connection = await amqplib.connect(url);
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  const marker = await connection.createConfirmChannel();
  channel.on('error', () => {});
  marker.on('error', () => {});
  await marker.assertQueue('crash-markers', { durable: true });
  await channel.prefetch(50);
  let pending: string[] = [];
  let proving = false;
  const died = new Promise<void>((resolve) => connection.on('close', () => resolve()));
  await channel.consume(QUEUE, (message) => {
    if (message === null) return;
    try {
      channel.ack(message);
    } catch {
      return;
    }
    ledger.acked.add(message.content.toString());
    pending.push(message.content.toString());
    if (proving || pending.length < 20) return;
    proving = true;
    const batch = pending;
    pending = [];
    marker.sendToQueue('crash-markers', Buffer.from('m'), { persistent: true }, (error) => {
      proving = false;
      if (!error) for (const body of batch) ledger.durablyAcked.add(body);
    });
  });
  await died;
}

async function drainAll(url: string): Promise<string[]> {
  // noDelay: an ack followed by the next get would otherwise wait on Nagle and delayed ACKs (40 ms each).
  const connection = await amqplib.connect(url, { noDelay: true });
  const channel = await connection.createChannel();
  const bodies: string[] = [];
  for (const queue of [QUEUE, BACKLOG]) {
    for (;;) {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) break;
      bodies.push(message.content.toString());
      channel.ack(message);
    }
  }
  // A confirmed publish after the acks makes them durable before the next cycle kills the broker.
  const confirm = await connection.createConfirmChannel();
  confirm.sendToQueue('crash-markers', Buffer.from('m'), { persistent: true });
  await confirm.waitForConfirms();
  await connection.close();
  return bodies;
}

test('persistent confirmed messages survive SIGKILL; durably acknowledged ones do not come back', { skip: process.env['WARREN_TEST_URL'] ? 'kills its own broker process' : false, timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-crash-'));
  try {
    for (const killAfterMs of [300, 800, 1500]) {
      let { child: broker, url } = await startBroker(dataDir);
      const setup = await amqplib.connect(url);
      const setupChannel = await setup.createChannel();
      await setupChannel.assertQueue(QUEUE, { durable: true });
      await setupChannel.assertQueue(BACKLOG, { durable: true });
      await setup.close();

      const ledger: Ledger = { confirmed: new Set(), acked: new Set(), durablyAcked: new Set() };
      const work = [publishUntilDeath(url, 1, QUEUE, ledger), publishUntilDeath(url, 2, BACKLOG, ledger), consumeUntilDeath(url, ledger)];
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      broker.kill('SIGKILL');
      const killedAt = Date.now();
      await Promise.all(work);
      t.diagnostic(`clients saw the kill after ${Date.now() - killedAt} ms`);
      const restartAt = Date.now();

      ({ child: broker, url } = await startBroker(dataDir));
      try {
        t.diagnostic(`restart took ${Date.now() - restartAt} ms`);
        const drainAt = Date.now();
        const recovered = new Set(await drainAll(url));
        t.diagnostic(`drain took ${Date.now() - drainAt} ms`);
        t.diagnostic(`kill at ${killAfterMs} ms: ${ledger.confirmed.size} confirmed, ${ledger.acked.size} acked (${ledger.durablyAcked.size} durably), ${recovered.size} recovered`);
        const missing = [...ledger.confirmed].filter((body) => !ledger.acked.has(body) && !recovered.has(body));
        const resurrected = [...ledger.durablyAcked].filter((body) => recovered.has(body));
        assert.ok(ledger.confirmed.size > 0, 'some publishes were confirmed before the kill');
        assert.ok(ledger.durablyAcked.size > 0 || killAfterMs < 500, 'some acknowledgements were proven durable');
        assert.deepEqual(missing, [], `confirmed, unacknowledged messages lost after a kill at ${killAfterMs} ms`);
        assert.deepEqual(resurrected, [], `durably acknowledged messages came back after a kill at ${killAfterMs} ms`);
      } finally {
        broker.kill('SIGTERM');
        await new Promise((resolve) => broker.once('exit', resolve));
      }
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('acknowledgements in a committed transaction are on disk at tx.commit-ok: none comes back after SIGKILL', { skip: process.env['WARREN_TEST_URL'] ? 'kills its own broker process' : false, timeout: 60_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-crash-tx-'));
  let { child: broker, url } = await startBroker(dataDir);
  try {
    const client = new AMQPClient(url);
    const connection = await client.connect();
    const confirm = await connection.channel();
    await confirm.confirmSelect();
    await confirm.queueDeclare('tx-acks', { durable: true });
    for (let i = 0; i < 20; i++) await confirm.basicPublish('', 'tx-acks', `m${i}`, { deliveryMode: 2 });
    const tx = await connection.channel();
    await tx.txSelect();
    for (let i = 0; i < 10; i++) {
      const message = await tx.basicGet('tx-acks', { noAck: false });
      assert.ok(message !== null, 'a message to take');
      await message.ack();
    }
    await tx.txCommit();
    // No other traffic between commit-ok and the kill: only the commit itself can have made the acks durable.
    broker.kill('SIGKILL');
    await new Promise((resolve) => broker.once('exit', resolve));
    ({ child: broker, url } = await startBroker(dataDir));
    const again = await new AMQPClient(url).connect();
    const reader = await again.channel();
    const left: string[] = [];
    for (;;) {
      const message = await reader.basicGet('tx-acks', { noAck: true });
      if (message === null) break;
      left.push(message.bodyToString() ?? '');
    }
    assert.deepEqual(left, Array.from({ length: 10 }, (_, i) => `m${i + 10}`));
    await again.close();
  } finally {
    const exited = broker.exitCode !== null || broker.signalCode !== null ? Promise.resolve() : new Promise((resolve) => broker.once('exit', resolve));
    broker.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
});
