// The seed article's asyncio example (call a remote service, process the response, print the result)
// rewritten as Warren tasks, as docs/async-tasks.md explains: each coroutine becomes a task handler
// that a worker runs, and main() submits the tasks and awaits their results instead of awaiting the
// coroutines. Checked by test/integration/docs-seed-task-example.test.ts. Run it on a broker with
//   npx tsx docs/examples/seed-async-task.ts amqp://guest:guest@localhost:5672
// (an application imports from 'warren' instead of the source tree).
import { fileURLToPath } from 'node:url';
import { connectTasks, createWorker, type TasksClient, type Worker } from '../../src/tasks/index.js';

/** The article's call_remote_service(): simulates calling a remote service. */
export async function callRemoteService(): Promise<string> {
  return 'remote_service_response';
}

/** The article's process_response(response): processes the response. */
export async function processResponse(response: string): Promise<string> {
  return response.toUpperCase();
}

/** Starts a worker that runs the two coroutines as the tasks 'call-remote-service' and 'process-response'. */
export async function startWorker(url: string): Promise<Worker> {
  const worker = createWorker({ url, concurrency: 1 });
  worker.handle('call-remote-service', () => callRemoteService());
  worker.handle<string, string>('process-response', (response) => processResponse(response));
  await worker.start();
  return worker;
}

/** The article's main(): each `await` of a coroutine becomes a submitted task whose result is awaited. */
export async function main(tasks: TasksClient, print: (line: string) => void = console.log): Promise<string> {
  // Make the request
  const response = await (await tasks.submit<null, string>('call-remote-service', null)).result();
  // Process the response
  const result = await (await tasks.submit<string, string>('process-response', response)).result();
  // Return the result
  print(result);
  return result;
}

/** The article's asyncio.run(main()): a worker and a client on the broker at `url`, main(), then shutdown. */
export async function runSeedExample(url: string, print: (line: string) => void = console.log): Promise<string> {
  const worker = await startWorker(url);
  const tasks = connectTasks({ url });
  try {
    return await main(tasks, print);
  } finally {
    await tasks.close();
    await worker.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runSeedExample(process.argv[2] ?? 'amqp://guest:guest@localhost:5672');
}
