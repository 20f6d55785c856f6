/**
 * Message browsing, which none of RabbitMQ's API offers: a queue's ready, unacknowledged and delayed
 * messages page by page without consuming any, a delayed exchange's held messages, deleting one ready
 * message, requeueing one unacknowledged message, and moving (redriving) ready messages to another
 * queue. Message ids are the queue's sequence numbers (stable while the node runs).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PermissionKind, ResourceAccess } from '../../broker/access-control.js';
import { moveFromApi } from '../../broker/api-operations.js';
import type { HeldMessage } from '../../broker/delay-scheduler.js';
import type { QueueEntry } from '../../broker/message.js';
import type { Queue } from '../../broker/queue.js';
import type { ReadyItem } from '../../broker/ready-list.js';
import type { Vhost } from '../../broker/vhost.js';
import { HttpError } from '../errors.js';
import { managementUser, resourceAccess } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost, syncedToDisk } from './broker-calls.js';
import { browseQuery, delayedJson, messageIdOf, readyJson, unackedJson, type BrowseQuery } from './message-views.js';
import { exchangeNameOf } from './routes-exchanges.js';

type Params = { vhost: string; name: string };
type Query = Record<string, string | undefined>;

/** Messages moved per event-loop turn, so a large move does not stall every other client. */
const MOVE_BATCH = 1000;

/** Registers the message browsing routes. */
export function registerMessageRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { broker } = backend;
  /** The queue a request names, once its user holds `kind` permission on it. */
  const queueFor = (request: FastifyRequest<{ Params: Params }>, kind: PermissionKind): { vhost: Vhost; queue: Queue; access: ResourceAccess } => {
    const vhost = existingVhost(broker, request.params.vhost);
    const access = resourceAccess(broker.users, managementUser(request), vhost.name);
    const queue = vhost.queues.get(request.params.name);
    if (queue === undefined) throw new HttpError(404, 'Object Not Found');
    callBroker(() => access.check(kind, 'queue', queue.name));
    return { vhost, queue, access };
  };

  app.get<{ Params: Params; Querystring: Query }>('/api/queues/:vhost/:name/messages', async (request) => {
    const { vhost, queue } = queueFor(request, 'read');
    const query = browseQuery(request.query, 'ready');
    const now = Date.now();
    switch (query.state) {
      case 'ready': {
        const items = queue.readyPage(query.offset, query.limit).map((item) => readyJson(readyOf(queue, item), query.previewBytes));
        return page(items, query, queue.messageCount);
      }
      case 'unacked': {
        const held = backend.unackedMessages(queue).sort((a, b) => a.entry.sequence - b.entry.sequence);
        return page(slice(held, query).map((one) => unackedJson(one, now, query.previewBytes)), query, held.length);
      }
      case 'delayed': {
        const held = delayedFor(vhost, queue);
        return page(slice(held, query).map((one) => delayedJson(one, now, query.previewBytes)), query, held.length);
      }
    }
  });

  app.get<{ Params: Params; Querystring: Query }>('/api/exchanges/:vhost/:name/messages', async (request) => {
    const vhost = existingVhost(broker, request.params.vhost);
    const access = resourceAccess(broker.users, managementUser(request), vhost.name);
    const exchange = vhost.exchanges.get(exchangeNameOf(request.params.name));
    if (exchange === undefined) throw new HttpError(404, 'Object Not Found');
    callBroker(() => access.check('read', 'exchange', exchange.name));
    const query = browseQuery(request.query, 'delayed');
    if (query.state !== 'delayed') throw new HttpError(400, 'an exchange holds only delayed messages: state must be delayed');
    const held = vhost.delayedMessages.held(exchange);
    const now = Date.now();
    return page(slice(held, query).map((one) => delayedJson(one, now, query.previewBytes)), query, held.length);
  });

  app.delete<{ Params: Params & { id: string } }>('/api/queues/:vhost/:name/messages/:id', async (request, reply) => {
    const { vhost, queue } = queueFor(request, 'read');
    const id = messageIdOf(request.params.id);
    const removed = id === undefined ? undefined : queue.removeReady(id);
    if (removed === undefined) throw new HttpError(404, `no ready message '${request.params.id}' in queue '${queue.name}'`);
    // As with a purge, the answer waits until the acknowledgement is on disk: a restart keeps it deleted.
    if (removed.stored) await syncedToDisk(vhost);
    return reply.code(204).send();
  });

  app.post<{ Params: Params & { id: string } }>('/api/queues/:vhost/:name/messages/:id/requeue', async (request, reply) => {
    const { queue } = queueFor(request, 'read');
    const id = messageIdOf(request.params.id);
    if (id === undefined || !backend.requeueUnacked(queue, id)) {
      throw new HttpError(404, `no unacknowledged message '${request.params.id}' of queue '${queue.name}'`);
    }
    return reply.code(204).send();
  });

  app.post<{ Params: Params; Body: Record<string, unknown> | undefined }>('/api/queues/:vhost/:name/move', async (request) => {
    const { vhost, queue: source, access } = queueFor(request, 'read');
    const body = request.body ?? {};
    const destinationName = body['destination'];
    if (typeof destinationName !== 'string' || destinationName === '') throw new HttpError(400, 'destination must be a queue name');
    const count = moveCount(body['count']);
    const destination = vhost.queues.get(destinationName);
    if (destination === undefined) throw new HttpError(404, `no queue '${destinationName}' in vhost '${vhost.name}'`);
    if (destination === source) throw new HttpError(400, 'destination must be another queue');
    callBroker(() => access.check('write', 'queue', destination.name));
    return { moved: await move(vhost, source, destination, Math.min(count, source.messageCount)) };
  });
}

/** A ready item as browsing shows it; a paged-out message's body is read back from disk for this page only. */
function readyOf(queue: Queue, item: ReadyItem): Parameters<typeof readyJson>[0] {
  if (item.entry !== undefined) {
    const { sequence, message, redelivered, deliveryCount } = item.entry;
    return { sequence, message, redelivered, deliveryCount, pagedOut: false };
  }
  const { sequence, redelivered } = item.paged;
  return { sequence, message: queue.readPaged(item.paged), redelivered, deliveryCount: 0, pagedOut: true };
}

/**
 * A queue's delayed messages: those its vhost's delayed exchanges hold that would reach the queue if
 * released now (bindings may change before they are due), earliest due first.
 */
function delayedFor(vhost: Vhost, queue: Queue): HeldMessage[] {
  const routed: Queue[] = [];
  return vhost.delayedMessages.held().filter((held) => vhost.route(held.exchange, held.message, routed).includes(queue));
}

/**
 * Moves up to `count` ready messages in rounds, then answers once the destination's copies are on disk;
 * only then are the source's entries settled (and that is made durable too). A failed write puts the
 * messages back on the source: duplicated at worst, never lost.
 */
async function move(vhost: Vhost, source: Queue, destination: Queue, count: number): Promise<number> {
  const taken: QueueEntry[] = [];
  while (taken.length < count) {
    const round = moveFromApi(source, destination, Math.min(MOVE_BATCH, count - taken.length));
    for (const entry of round.taken) taken.push(entry);
    if (round.refused || round.taken.length === 0 || taken.length >= count) break;
    await nextTurn();
  }
  try {
    await syncedToDisk(vhost);
  } catch (error) {
    source.putBack(taken);
    throw error;
  }
  for (const entry of taken) source.settle(entry);
  if (taken.some((entry) => entry.location !== undefined)) await syncedToDisk(vhost);
  return taken.length;
}

/** The move's `count`: absent for every ready message, else a positive integer (JSON number or decimal text). */
function moveCount(value: unknown): number {
  if (value === undefined || value === null) return Number.POSITIVE_INFINITY;
  const count = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) throw new HttpError(400, 'count must be a positive integer');
  return count;
}

function slice<T>(all: readonly T[], query: BrowseQuery): T[] {
  return all.slice(query.offset, query.offset + query.limit);
}

function page(items: unknown[], query: BrowseQuery, total: number): { items: unknown[]; offset: number; limit: number; total: number } {
  return { items, offset: query.offset, limit: query.limit, total };
}
