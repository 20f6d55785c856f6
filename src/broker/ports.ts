/**
 * The interfaces through which the broker reaches durable storage. The storage layer implements
 * them; the broker never touches files itself. Issue 3 (durable storage) fills these in; until
 * then every queue keeps its messages in memory only.
 */
import type { ExchangeOptions } from './exchange/exchange.js';
import type { QueueOptions } from './queue.js';

/** A durable definition change, appended to the definitions log. */
export type DefinitionEvent =
  | { kind: 'exchangeDeclared'; vhost: string; name: string; type: string; options: ExchangeOptions }
  | { kind: 'exchangeDeleted'; vhost: string; name: string }
  | { kind: 'queueDeclared'; vhost: string; name: string; options: QueueOptions }
  | { kind: 'queueDeleted'; vhost: string; name: string };

/** Where durable definitions are recorded. */
export interface DefinitionStore {
  /** Records one change; must be durable before the matching -ok is sent. */
  append(event: DefinitionEvent): void;
}

/** A store that records nothing: the broker's behaviour before durable storage exists. */
export const transientDefinitionStore: DefinitionStore = {
  append: () => {},
};
