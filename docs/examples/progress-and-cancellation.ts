// Progress and cancellation of Warren tasks, as docs/progress-and-cancellation.md explains: a handler
// reports how far it got with ctx.progress() and stops when ctx.signal aborts; the submitter watches
// the progress with handle.onProgress() and cancels a task with handle.cancel(). Checked by
// test/integration/docs-progress-cancel-example.test.ts. Run it on a broker with a result keeper with
//   npx tsx docs/examples/progress-and-cancellation.ts amqp://guest:guest@localhost:5672
// (an application imports from 'warren' instead of the source tree).
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskCancelledError, connectTasks, createWorker, type TasksClient, type Worker } from '../../src/tasks/index.js';

/** The payload of a 'resize-batch' task: how many images, and how long each one takes. */
export interface Batch {
  images: number;
  msPerImage: number;
}

/** Starts a worker for 'resize-batch': one image after the other, reporting progress, stopping when told. */
export async function startWorker(url: string): Promise<Worker> {
  const worker = createWorker({ url, concurrency: 2 });
  worker.handle<Batch, string>('resize-batch', async ({ images, msPerImage }, ctx) => {
    for (let done = 0; done < images; done++) {
      // Passing the signal on makes the wait end at once when the task is cancelled (it throws).
      await sleep(msPerImage, undefined, { signal: ctx.signal });
      ctx.progress({ done: done + 1, of: images, percent: Math.round(((done + 1) * 100) / images) });
    }
    return `resized ${images} images`;
  });
  await worker.start();
  return worker;
}

/** Runs one batch to its end while printing its progress, then cancels a long one half way. */
export async function main(tasks: TasksClient, print: (line: string) => void = console.log): Promise<void> {
  const batch = await tasks.submit<Batch, string>('resize-batch', { images: 5, msPerImage: 50 });
  const stopWatching = batch.onProgress((progress) => print(`progress ${JSON.stringify(progress)}`));
  print(await batch.result());
  stopWatching();

  const long = await tasks.submit<Batch, string>('resize-batch', { images: 1000, msPerImage: 20 });
  // Poll the progress the keeper recorded (any process can, with tasks.handle(id)) until a few images are done.
  for (;;) {
    const progress = (await long.progress()) as { done: number } | undefined;
    if (progress !== undefined && progress.done >= 5) break;
    await sleep(50);
  }
  const record = await long.cancel();
  print(`cancel: the task is ${record.state}`);
  try {
    await long.result();
  } catch (error) {
    if (!(error instanceof TaskCancelledError)) throw error;
    const { done } = (await long.progress()) as { done: number };
    print(`cancelled after ${done} of 1000 images`);
  }
}

/** A worker and a client on the broker at `url`, main(), then shutdown. */
export async function runExample(url: string, print: (line: string) => void = console.log): Promise<void> {
  const worker = await startWorker(url);
  const tasks = connectTasks({ url });
  try {
    await main(tasks, print);
  } finally {
    await tasks.close();
    await worker.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runExample(process.argv[2] ?? 'amqp://guest:guest@localhost:5672');
}
