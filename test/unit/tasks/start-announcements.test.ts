/** StartAnnouncements (src/tasks/start-announcements.ts): one timer announces running attempts once their delay is over. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartAnnouncements, type AnnouncedAttempt } from '../../../src/tasks/start-announcements.js';

function attempt(delayMs: number, announced: string[], label: string): AnnouncedAttempt & { handlerRunning: boolean } {
  return {
    announceDueAt: performance.now() + delayMs,
    handlerRunning: true,
    announceStart() {
      announced.push(`${label}@${(performance.now() - (this.announceDueAt - delayMs)).toFixed(0)}`);
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('timed out waiting');
    await sleep(2);
  }
}

test('attempts still running when due are announced in start order, never before; finished ones never', async () => {
  const announcements = new StartAnnouncements();
  const announced: string[] = [];
  const slow = attempt(30, announced, 'slow');
  const quick = attempt(30, announced, 'quick');
  announcements.add(slow);
  announcements.add(quick);
  quick.handlerRunning = false;
  await sleep(10);
  assert.equal(announced.length, 0, 'nothing is due yet');
  announcements.add(attempt(30, announced, 'later'));
  await waitFor(() => announced.length === 2);
  assert.deepEqual(announced.map((entry) => entry.split('@')[0]), ['slow', 'later']);
  for (const entry of announced) assert.ok(Number(entry.split('@')[1]) >= 30, `never early: ${entry}`);
  await sleep(40);
  assert.equal(announced.length, 2, 'the finished attempt is never announced');
});

test('attempts dropped as their handlers end (last in, first out) are never announced; a running one still is', async () => {
  const announcements = new StartAnnouncements();
  const announced: string[] = [];
  const running = attempt(20, announced, 'running');
  announcements.add(running);
  for (let index = 0; index < 100; index++) {
    const quick = attempt(20, announced, `quick${index}`);
    announcements.add(quick);
    quick.handlerRunning = false;
    announcements.dropEnded();
  }
  await waitFor(() => announced.length === 1);
  await sleep(30);
  assert.deepEqual(announced.map((entry) => entry.split('@')[0]), ['running']);
});
