/**
 * HTTP authentication for the standalone keeper (`warren keeper`), which has no broker of its own: a
 * request's basic-auth credentials are checked by logging in to the AMQP broker with them, so the
 * broker's users, passwords and vhost permissions apply (RabbitMQ's, or Warren's). Accepted logins are
 * remembered briefly, refused ones for a moment only (a burst of bad requests costs one login, a
 * corrected password works at once), an unreachable broker is never remembered (503), and at most a
 * few logins run at once. Passwords are never kept: cache keys are HMACs under a per-process secret.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isLoopbackAddress, type AuthenticationResult, type User } from '../broker/users.js';
import type { Permission } from '../config/config.js';
import { checkAmqpLogin, type AmqpLoginOutcome } from '../tasks/amqp-login.js';
import { HttpError } from './errors.js';
import type { HttpAuthenticator } from './http-authenticator.js';

/** Options of the AMQP login authenticator. */
export interface AmqpLoginAuthenticatorOptions {
  /** The broker and vhost to log in to (the keeper's own AMQP URL; its credentials are replaced). */
  brokerUrl: string;
  /** How long an accepted login is remembered (default 10 s): a changed password takes that long to apply. */
  acceptedTtlMs?: number;
  /** How long a refused login is remembered (default 1 s). */
  refusedTtlMs?: number;
  /** Logins to the broker running at once (default 4); further ones wait. */
  concurrencyMax?: number;
  /** Logins waiting for a turn (default 100); beyond that a request gets 503. */
  waitingMax?: number;
  /** How long one login may take (default 5 s) before the request gets 503. */
  timeoutMs?: number;
  /**
   * Users accepted only from loopback HTTP clients (default ['guest'], RabbitMQ's loopback_users): the
   * broker sees the keeper's address, not the HTTP client's, so the keeper applies this rule itself.
   */
  loopbackUsers?: readonly string[];
  /** Most credentials remembered (default 10,000). */
  entriesMax?: number;
}

/** What a login check found: a refused login (401), or a user with or without access to the vhost (403). */
interface CachedOutcome {
  outcome: 'refused' | 'accepted' | 'vhostRefused';
  reason: string;
  expiresAt: number;
}

/**
 * The permission of a user the broker let into the keeper's vhost, the only one the gateway serves. The
 * broker applies the user's own configure/write/read patterns to its AMQP operations; the gateway's
 * operations run on the keeper's connection, as they do on the node's internal one in `warren server`.
 */
const KEEPER_VHOST_ACCESS: Permission = { configure: '.*', write: '.*', read: '.*' };

/** An HttpAuthenticator that logs in to the AMQP broker with the request's credentials. */
export class AmqpLoginAuthenticator implements HttpAuthenticator {
  private readonly cache = new Map<string, CachedOutcome>();
  private readonly checking = new Map<string, Promise<AmqpLoginOutcome>>();
  /** Users the broker let into the vhost (the others logged in but got 530). */
  private readonly withVhostAccess = new WeakSet<User>();
  private readonly secret = randomBytes(32);
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly settings: Required<Omit<AmqpLoginAuthenticatorOptions, 'brokerUrl'>>;

  constructor(private readonly options: AmqpLoginAuthenticatorOptions) {
    this.settings = {
      acceptedTtlMs: options.acceptedTtlMs ?? 10_000,
      refusedTtlMs: options.refusedTtlMs ?? 1000,
      concurrencyMax: options.concurrencyMax ?? 4,
      waitingMax: options.waitingMax ?? 100,
      timeoutMs: options.timeoutMs ?? 5000,
      loopbackUsers: options.loopbackUsers ?? ['guest'],
      entriesMax: options.entriesMax ?? 10_000,
    };
  }

  async authenticate(username: string, password: string, remoteAddress: string): Promise<AuthenticationResult> {
    if (this.settings.loopbackUsers.includes(username) && !isLoopbackAddress(remoteAddress)) {
      return { ok: false, reason: `user '${username}' can only connect via localhost` };
    }
    const key = createHmac('sha256', this.secret).update(username).update('\0').update(password).digest('base64');
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return this.result(username, cached);
    let check = this.checking.get(key);
    if (check === undefined) {
      check = this.login({ username, password }).finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    const outcome = await check;
    if (outcome.outcome === 'unavailable') throw new HttpError(503, `the broker could not check the credentials: ${outcome.reason}`);
    const ttlMs = outcome.outcome === 'refused' ? this.settings.refusedTtlMs : this.settings.acceptedTtlMs;
    const checked: CachedOutcome = { outcome: outcome.outcome, reason: outcome.outcome === 'accepted' ? '' : outcome.reason, expiresAt: Date.now() + ttlMs };
    this.remember(key, checked);
    return this.result(username, checked);
  }

  permission(user: User, _vhost: string): Permission | undefined {
    return this.withVhostAccess.has(user) ? KEEPER_VHOST_ACCESS : undefined;
  }

  private result(username: string, checked: CachedOutcome): AuthenticationResult {
    if (checked.outcome === 'refused') return { ok: false, reason: `user '${username}' - ${checked.reason}` };
    const user: User = { username, passwordHash: '', tags: [], permissions: new Map(), loopbackOnly: false };
    if (checked.outcome === 'accepted') this.withVhostAccess.add(user);
    return { ok: true, user };
  }

  /** One login to the broker, when a turn is free. */
  private async login(credentials: { username: string; password: string }): Promise<AmqpLoginOutcome> {
    await this.acquireTurn();
    try {
      return await checkAmqpLogin(this.options.brokerUrl, credentials, this.settings.timeoutMs);
    } finally {
      this.releaseTurn();
    }
  }

  private async acquireTurn(): Promise<void> {
    if (this.running < this.settings.concurrencyMax) {
      this.running++;
      return;
    }
    if (this.waiting.length >= this.settings.waitingMax) throw new HttpError(503, 'too many logins being checked; try again shortly');
    // releaseTurn hands its turn over directly, so `running` stays within the limit.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private releaseTurn(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else next();
  }

  private remember(key: string, outcome: CachedOutcome): void {
    this.cache.delete(key);
    this.cache.set(key, outcome);
    if (this.cache.size <= this.settings.entriesMax) return;
    const now = Date.now();
    for (const [oldKey, old] of this.cache) if (old.expiresAt <= now) this.cache.delete(oldKey);
    // Still full: forget the oldest (Map keeps insertion order).
    while (this.cache.size > this.settings.entriesMax) this.cache.delete(this.cache.keys().next().value as string);
  }
}
