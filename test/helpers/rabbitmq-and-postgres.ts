/**
 * Starts a private RabbitMQ and a private PostgreSQL at once (RabbitMQ's boot dominates, so in
 * parallel), registering each started server's stop in `cleanup` even when the other fails to start.
 */
import { startTestPostgres, type TestPostgres } from './postgres.js';
import { startTestRabbitmq, type TestRabbitmq } from './rabbitmq.js';

/** Both servers; throws the first start failure (after registering the stop of the one that started). */
export async function startRabbitmqAndPostgres(cleanup: (() => Promise<unknown>)[]): Promise<{ rabbitmq: TestRabbitmq; postgres: TestPostgres }> {
  const [rabbitmq, postgres] = await Promise.allSettled([startTestRabbitmq(), startTestPostgres()]);
  for (const server of [rabbitmq, postgres]) if (server.status === 'fulfilled') cleanup.push(() => server.value.stop());
  if (rabbitmq.status === 'rejected') throw rabbitmq.reason;
  if (postgres.status === 'rejected') throw postgres.reason;
  return { rabbitmq: rabbitmq.value, postgres: postgres.value };
}
