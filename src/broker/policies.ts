/**
 * Policies (RabbitMQ's): named, per-vhost rules that give the queues and/or exchanges whose names
 * match a regular expression extra settings, changeable while they run. Of the policies matching an
 * object, the one with the highest priority applies (ties: the greatest name, so the choice is
 * stable). Merged with a queue's own x-arguments as RabbitMQ merges them: for the numeric limits
 * (message-ttl, expires, max-length, max-length-bytes, delivery-limit) the lower value wins; for
 * dead-letter-exchange, dead-letter-routing-key and overflow the queue's argument wins.
 */
import { DefinitionError } from './errors.js';
import type { OverflowMode, QueueSettings } from './queue-settings.js';

/** Which objects a policy applies to ('classic_queues' is accepted as RabbitMQ's alias of queues here). */
export type PolicyApplyTo = 'queues' | 'exchanges' | 'all' | 'classic_queues';

/** A policy's settings: RabbitMQ's key names, JSON values. */
export type PolicyDefinition = Readonly<Record<string, string | number>>;

/** One policy. */
export interface Policy {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: string;
  readonly applyTo: PolicyApplyTo;
  readonly priority: number;
  readonly definition: PolicyDefinition;
}

/** What a caller gives to create or replace a policy (checked by validatePolicy). */
export interface PolicyInput {
  vhost: string;
  name: string;
  pattern: unknown;
  applyTo?: unknown;
  priority?: unknown;
  definition: unknown;
}

const APPLY_TO = new Set(['queues', 'exchanges', 'all', 'classic_queues']);
const NON_NEGATIVE_INTEGER_KEYS = new Set(['message-ttl', 'max-length', 'max-length-bytes', 'delivery-limit']);
const OVERFLOW_MODES = new Set(['drop-head', 'reject-publish', 'reject-publish-dlx']);
/**
 * Keys of RabbitMQ features a single Warren node has no use for (mirroring, queue modes): accepted so
 * definitions exported from RabbitMQ import, and without effect.
 */
const IGNORED_KEYS = new Set(['ha-mode', 'ha-params', 'ha-sync-mode', 'ha-promote-on-shutdown', 'ha-promote-on-failure', 'queue-mode', 'queue-master-locator', 'queue-version']);

/** Checks a policy and returns it normalised; throws DefinitionError('invalid') with the reason. */
export function validatePolicy(input: PolicyInput): Policy {
  const invalid = (reason: string): DefinitionError => new DefinitionError('invalid', `policy '${input.name}': ${reason}`);
  if (input.name === '') throw invalid('a policy needs a name');
  if (typeof input.pattern !== 'string') throw invalid('pattern must be a string (a regular expression)');
  try {
    new RegExp(input.pattern);
  } catch {
    throw invalid(`pattern ${JSON.stringify(input.pattern)} is not a valid regular expression`);
  }
  const applyTo = input.applyTo ?? 'all';
  if (typeof applyTo !== 'string' || !APPLY_TO.has(applyTo)) throw invalid("apply-to must be 'queues', 'exchanges' or 'all'");
  const priority = input.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) throw invalid('priority must be an integer');
  const definition = input.definition;
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition) || Object.keys(definition).length === 0) {
    throw invalid('definition must be a non-empty JSON object');
  }
  for (const [key, value] of Object.entries(definition)) {
    const problem = definitionProblem(key, value);
    if (problem !== undefined) throw invalid(problem);
  }
  return { vhost: input.vhost, name: input.name, pattern: input.pattern, applyTo: applyTo as PolicyApplyTo, priority, definition: { ...(definition as PolicyDefinition) } };
}

function definitionProblem(key: string, value: unknown): string | undefined {
  if (IGNORED_KEYS.has(key)) return undefined;
  if (NON_NEGATIVE_INTEGER_KEYS.has(key)) {
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? undefined : `${key} must be a non-negative integer`;
  }
  if (key === 'expires') return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? undefined : 'expires must be a positive integer';
  if (key === 'overflow') return typeof value === 'string' && OVERFLOW_MODES.has(value) ? undefined : `overflow must be one of ${[...OVERFLOW_MODES].join(', ')}`;
  if (key === 'dead-letter-exchange' || key === 'dead-letter-routing-key' || key === 'alternate-exchange') {
    return typeof value === 'string' ? undefined : `${key} must be a string`;
  }
  return `'${key}' is not a recognised policy setting`;
}

/** True when `policy` applies to the object of that kind and name. */
function applies(policy: Policy, kind: 'queue' | 'exchange', name: string): boolean {
  const kindMatches = policy.applyTo === 'all' || (kind === 'queue' ? policy.applyTo !== 'exchanges' : policy.applyTo === 'exchanges');
  return kindMatches && new RegExp(policy.pattern).test(name);
}

/** The policies of one vhost. */
export class VhostPolicies {
  private readonly byName = new Map<string, Policy>();

  /** Every policy, by name. */
  list(): Policy[] {
    return [...this.byName.values()];
  }

  get(name: string): Policy | undefined {
    return this.byName.get(name);
  }

  set(policy: Policy): void {
    this.byName.set(policy.name, policy);
  }

  delete(name: string): boolean {
    return this.byName.delete(name);
  }

  /** The policy that applies to the queue or exchange of that name, if any. The default exchange has none. */
  match(kind: 'queue' | 'exchange', name: string): Policy | undefined {
    if (kind === 'exchange' && name === '') return undefined;
    let best: Policy | undefined;
    for (const policy of this.byName.values()) {
      if (!applies(policy, kind, name)) continue;
      if (best === undefined || policy.priority > best.priority || (policy.priority === best.priority && policy.name > best.name)) best = policy;
    }
    return best;
  }
}

/** A queue's settings from its arguments merged with a policy's definition (RabbitMQ's rules, above). */
export function withPolicy(fromArguments: QueueSettings, definition: PolicyDefinition | undefined): QueueSettings {
  if (definition === undefined) return fromArguments;
  const lower = (argument: number | undefined, key: string): number | undefined => {
    const fromPolicy = definition[key];
    if (typeof fromPolicy !== 'number') return argument;
    return argument === undefined ? fromPolicy : Math.min(argument, fromPolicy);
  };
  const text = (key: string): string | undefined => (typeof definition[key] === 'string' ? (definition[key] as string) : undefined);
  return {
    ...fromArguments,
    messageTtl: lower(fromArguments.messageTtl, 'message-ttl'),
    expires: lower(fromArguments.expires, 'expires'),
    maxLength: lower(fromArguments.maxLength, 'max-length'),
    maxLengthBytes: lower(fromArguments.maxLengthBytes, 'max-length-bytes'),
    deliveryLimit: lower(fromArguments.deliveryLimit, 'delivery-limit'),
    deadLetterExchange: fromArguments.deadLetterExchange ?? text('dead-letter-exchange'),
    deadLetterRoutingKey: fromArguments.deadLetterRoutingKey ?? text('dead-letter-routing-key'),
    overflow: fromArguments.overflowFromArguments ? fromArguments.overflow : ((text('overflow') as OverflowMode | undefined) ?? fromArguments.overflow),
  };
}
