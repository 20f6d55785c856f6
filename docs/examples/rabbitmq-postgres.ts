// The task layer on RabbitMQ (no plugins) with PostgreSQL for results, as
// docs/deployment-rabbitmq-postgres.md describes: two result keepers with their HTTP gateways on one
// PostgreSQL store, a worker, an app submitting with the SDK, and an HTTP client polling a keeper.
// In a deployment each part is its own process (`warren keeper --amqp ... --store postgres://...`,
// `warren worker handlers.js`, your app); here they share one process so the example runs as a test
// (test/interop/docs-rabbitmq-postgres-example.test.ts). Run it with
//   npx tsx docs/examples/rabbitmq-postgres.ts amqp://guest:guest@127.0.0.1:5672/ postgres://warren@127.0.0.1/warren
// (an application imports from 'warren' instead of the source tree).
import { fileURLToPath } from 'node:url';
import { startKeeperNode, type KeeperNode } from '../../src/keeper-node.js';
import { connectTasks, createWorker } from '../../src/tasks/index.js';
import { createLogger } from '../../src/util/logger.js';

/** What the example found: the result through the SDK, the result through HTTP, and the keepers' counts. */
export interface DeploymentExampleOutcome {
  sdkResult: unknown;
  httpResult: unknown;
  finishedTotal: number;
}

/** Runs the example against a RabbitMQ at `amqpUrl` and a PostgreSQL at `postgresUrl`, then stops everything. */
export async function runDeploymentExample(amqpUrl: string, postgresUrl: string, print: (line: string) => void = console.log): Promise<DeploymentExampleOutcome> {
  const logger = createLogger('silent');
  // Two keepers (in production: two `warren keeper` processes, behind a load balancer for HTTP).
  const keepers: KeeperNode[] = [];
  for (let n = 0; n < 2; n++) keepers.push(await startKeeperNode({ amqpUrl, storeUrl: postgresUrl, httpPort: 0, httpHost: '127.0.0.1', logger }));
  // A worker (in production: `warren worker handlers.js --url ... --concurrency 8`, as many as needed).
  const worker = createWorker({ url: amqpUrl, concurrency: 4 });
  worker.handle<{ order: number; lines: number }, { pdf: string }>('invoice.render', async ({ order, lines }) => {
    await new Promise((resolve) => setTimeout(resolve, lines * 10));
    return { pdf: `invoice-${order}.pdf` };
  });
  await worker.start();
  // The app submits with the SDK and awaits the result.
  const tasks = connectTasks({ url: amqpUrl });
  try {
    const handle = await tasks.submit('invoice.render', { order: 1, lines: 3 }, { attempts: 3, timeoutMs: 30_000 });
    const sdkResult = await handle.result({ timeoutMs: 10_000 });
    print(`SDK: ${JSON.stringify(sdkResult)}`);

    // Another client submits over HTTP to one keeper and long-polls it; the credentials are a
    // RabbitMQ user's (here the one in the AMQP URL), checked by logging in to RabbitMQ.
    const { username, password } = new URL(amqpUrl);
    const authorization = `Basic ${Buffer.from(`${decodeURIComponent(username)}:${decodeURIComponent(password)}`).toString('base64')}`;
    const [first, second] = keepers.map((keeper) => `http://127.0.0.1:${keeper.httpPort}`);
    const submitted = await fetch(`${first}/api/tasks/invoice.render`, {
      method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ payload: { order: 2, lines: 5 } }),
    });
    const location = submitted.headers.get('location') ?? '';
    let task: { state: string; result?: unknown } = { state: 'queued' };
    for (let poll = 0; poll < 20 && task.state !== 'succeeded' && task.state !== 'dead' && task.state !== 'failed'; poll++) {
      // Any keeper answers: they share the PostgreSQL store.
      task = (await (await fetch(`${poll % 2 === 0 ? second : first}${location}?wait=5`, { headers: { authorization } })).json()) as typeof task;
    }
    print(`HTTP: ${task.state} ${JSON.stringify(task.result)}`);

    // Each keeper counts the events it consumed; Prometheus sums them over the keepers. The events
    // reach the keepers a moment after the results reach the app, so the count may need a few looks.
    let finishedTotal = 0;
    for (let look = 0; look < 50 && finishedTotal < 2; look++) {
      if (look > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      finishedTotal = 0;
      for (const base of [first, second]) {
        const text = await (await fetch(`${base}/metrics`)).text();
        const line = /^warren_task_finished_total\{task="invoice\.render",state="succeeded"\} (\d+)$/m.exec(text);
        finishedTotal += Number(line?.[1] ?? 0);
      }
    }
    print(`warren_task_finished_total{task="invoice.render",state="succeeded"} summed over both keepers: ${finishedTotal}`);
    return { sdkResult, httpResult: task.result, finishedTotal };
  } finally {
    await tasks.close();
    await worker.close();
    for (const keeper of keepers) await keeper.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [amqpUrl, postgresUrl] = process.argv.slice(2);
  if (amqpUrl === undefined || postgresUrl === undefined) {
    console.error('usage: rabbitmq-postgres.ts AMQP_URL POSTGRES_URL');
    process.exit(2);
  }
  await runDeploymentExample(amqpUrl, postgresUrl);
}
