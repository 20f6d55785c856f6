/**
 * docs/examples/rabbitmq-postgres.ts (docs/deployment-rabbitmq-postgres.md) runs against a private
 * Debian RabbitMQ without plugins and a private PostgreSQL: the SDK and HTTP get their results, both
 * keepers' metrics add up, and the file run as a script prints the same. In CI a missing server fails.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runDeploymentExample } from '../../docs/examples/rabbitmq-postgres.js';
import { skip as postgresSkip } from '../helpers/postgres.js';
import { startRabbitmqAndPostgres } from '../helpers/rabbitmq-and-postgres.js';
import { skip as rabbitmqSkip } from '../helpers/rabbitmq.js';
import { runDocsExample } from '../helpers/docs-example.js';

const options = { skip: rabbitmqSkip || postgresSkip, timeout: 60_000 };
let amqpUrl: string;
let postgresUrl: string;
const cleanup: (() => Promise<unknown>)[] = [];

before(async () => {
  if (options.skip !== false) return;
  const { rabbitmq, postgres } = await startRabbitmqAndPostgres(cleanup);
  amqpUrl = rabbitmq.url;
  postgresUrl = postgres.url;
});

after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

test('the deployment example gets its results through the SDK and HTTP, and the keepers count both tasks', options, async () => {
  const printed: string[] = [];
  const outcome = await runDeploymentExample(amqpUrl, postgresUrl, (line) => printed.push(line));
  assert.deepEqual(outcome.sdkResult, { pdf: 'invoice-1.pdf' });
  assert.deepEqual(outcome.httpResult, { pdf: 'invoice-2.pdf' });
  assert.equal(outcome.finishedTotal, 2);
  assert.deepEqual(printed.slice(0, 2), ['SDK: {"pdf":"invoice-1.pdf"}', 'HTTP: succeeded {"pdf":"invoice-2.pdf"}']);
});

test('run as a script, the example prints the same results and exits 0', options, async () => {
  const { code, stdout, stderr } = await runDocsExample('rabbitmq-postgres.ts', [amqpUrl, postgresUrl]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^SDK: \{"pdf":"invoice-1\.pdf"\}\nHTTP: succeeded \{"pdf":"invoice-2\.pdf"\}\n/);
});
