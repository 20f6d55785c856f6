// Idempotency keys (docs/idempotency.md): a client that submits "charge order A-1001" and, not sure
// whether the first submit got through (a timeout, a lost connection), submits again with the same
// key gets the first task back, and the card is charged once. Checked by
// test/integration/docs-idempotency-example.test.ts. Run it on a broker whose keeper runs
// (`warren server` runs one) with
//   npx tsx docs/examples/idempotent-submit.ts amqp://guest:guest@localhost:5672
// (an application imports from 'warren' instead of the source tree).
import { fileURLToPath } from 'node:url';
import { connectTasks, createWorker } from '../../src/tasks/index.js';

/** What a charge task is given. */
export interface Charge {
  orderId: string;
  cents: number;
}

/** Submits the same charge twice with one idempotency key; returns how often the worker charged. */
export async function runIdempotencyExample(url: string, print: (line: string) => void = console.log): Promise<{ charges: number }> {
  let charges = 0;
  const worker = createWorker({ url, concurrency: 1 });
  worker.handle<Charge, string>('charge-card', ({ orderId, cents }) => {
    charges += 1;
    return `charged ${cents} cents for order ${orderId}`;
  });
  await worker.start();
  const tasks = connectTasks({ url });
  try {
    const charge: Charge = { orderId: 'A-1001', cents: 4200 };
    // The key names the operation, not the attempt: the order id is a good one.
    const first = await tasks.submit<Charge, string>('charge-card', charge, { idempotencyKey: 'order-A-1001' });
    // ...the client retries the submit: same key, so no second charge.
    const retried = await tasks.submit<Charge, string>('charge-card', charge, { idempotencyKey: 'order-A-1001' });
    print(`same task: ${retried.id === first.id}, replayed: ${retried.replayed}`);
    print(await retried.result());
    return { charges };
  } finally {
    await tasks.close();
    await worker.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runIdempotencyExample(process.argv[2] ?? 'amqp://guest:guest@localhost:5672');
}
