/**
 * The scaffolding every `warren ctl` verb shares: the global options (accepted before the noun, where
 * they may also come from WARREN_* variables, or after the verb), the context a verb runs with, and
 * the wrapper that turns a CtlError into its message on stderr and its exit code.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { ManagementClient } from './ctl-client.js';
import { CtlError } from './ctl-errors.js';
import { OUTPUT_FORMATS, print, type OutputFormat } from './ctl-output.js';

/** What the global options resolve to. */
export interface GlobalOptions {
  url: string;
  user: string;
  password: string;
  vhost: string;
  format: OutputFormat;
  timeoutMs: number;
}

/** What a verb runs with. */
export interface CtlContext {
  client: ManagementClient;
  vhost: string;
  format: OutputFormat;
}

/** Name of the command the global options live on. */
export const CTL_COMMAND_NAME = 'ctl';
/** The management port's URL when neither --url nor WARREN_API_URL says otherwise (RabbitMQ's port). */
const DEFAULT_URL = 'http://127.0.0.1:15672';
/** How long one request may take before ctl gives up (exit 5). */
const DEFAULT_TIMEOUT_MS = 30_000;
const GLOBAL_KEYS = ['url', 'user', 'password', 'vhost', 'format', 'timeoutMs'] as const;

/** Verbs that define their own --password (the new user's) and so take the login one only before the noun. */
const verbsWithOwnPassword = new WeakSet<Command>();

/** An argument parser for a positive integer. */
export function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('must be a positive integer');
  return number;
}

function globalOptions(withDefaults: boolean, withPassword: boolean): Option[] {
  const option = (flags: string, description: string, environment: string | undefined, fallback: unknown): Option => {
    const created = new Option(flags, description);
    if (withDefaults && environment !== undefined) created.env(environment);
    if (withDefaults) created.default(fallback);
    return created;
  };
  return [
    option('--url <url>', 'URL of the management port', 'WARREN_API_URL', DEFAULT_URL),
    option('--user <name>', 'user to log in as', 'WARREN_USER', 'guest'),
    ...(withPassword ? [option('--password <password>', 'password to log in with', 'WARREN_PASSWORD', 'guest')] : []),
    option('--vhost <vhost>', 'virtual host', undefined, '/'),
    option('--format <format>', 'output format', undefined, 'table').choices(OUTPUT_FORMATS),
    option('--timeout-ms <ms>', 'how long to wait for each answer', undefined, DEFAULT_TIMEOUT_MS).argParser(parsePositiveInteger),
  ];
}

/** Adds the global options, with their defaults and environment variables, to the `ctl` command. */
export function addGlobalOptions(ctl: Command): Command {
  for (const option of globalOptions(true, true)) ctl.addOption(option);
  return ctl;
}

/**
 * A verb under a noun (`queues` → `list`). It accepts the global options again, after its own
 * arguments, so `warren ctl queues list --format json` works as well as `warren ctl --format json
 * queues list`. A verb with `ownPassword` keeps `--password` for itself.
 */
export function addVerb(noun: Command, name: string, description: string, settings: { ownPassword?: boolean } = {}): Command {
  const verb = noun.command(name).description(description);
  for (const option of globalOptions(false, settings.ownPassword !== true)) verb.addOption(option.hideHelp());
  if (settings.ownPassword === true) verbsWithOwnPassword.add(verb);
  return verb;
}

/** The global options in effect for a verb: the ones given after it win over those before the noun. */
export function resolveGlobalOptions(verb: Command): GlobalOptions {
  let ctl: Command | null = verb;
  while (ctl !== null && ctl.name() !== CTL_COMMAND_NAME) ctl = ctl.parent;
  if (ctl === null) throw new Error(`${verb.name()} is not under the ${CTL_COMMAND_NAME} command`);
  const resolved = { ...ctl.opts<GlobalOptions>() };
  const own = verb.opts<Partial<GlobalOptions>>();
  for (const key of GLOBAL_KEYS) {
    if (key === 'password' && verbsWithOwnPassword.has(verb)) continue;
    const value = own[key];
    if (value !== undefined) Object.assign(resolved, { [key]: value });
  }
  return resolved;
}

/** The positional argument at `index` of a verb (commander has checked that required ones are there). */
export function argumentAt(verb: Command, index: number): string {
  const value: unknown = verb.processedArgs[index];
  if (typeof value !== 'string') throw new Error(`argument ${index} of ${verb.name()} is missing`);
  return value;
}

/** The positional argument at `index`, or undefined when an optional one was not given. */
export function optionalArgumentAt(verb: Command, index: number): string | undefined {
  const value: unknown = verb.processedArgs[index];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The action of a verb: builds its context, runs `handler`, and reports a CtlError as
 * `warren ctl: <reason>` on stderr with its exit code. Anything else is a bug and propagates.
 */
export function verbAction(handler: (context: CtlContext, verb: Command) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const verb = args[args.length - 1];
    if (!(verb instanceof Command)) throw new Error('commander passes the command last');
    try {
      const options = resolveGlobalOptions(verb);
      const client = new ManagementClient({ url: options.url, user: options.user, password: options.password, timeoutMs: options.timeoutMs });
      await handler({ client, vhost: options.vhost, format: options.format }, verb);
    } catch (error) {
      if (!(error instanceof CtlError)) throw error;
      process.stderr.write(`warren ctl: ${error.message}\n`);
      process.exitCode = error.exitCode;
    }
  };
}

/** Prints a sentence saying what was done; in json format a verb prints only the API's JSON, if any. */
export function confirm(context: CtlContext, sentence: string): void {
  if (context.format === 'table') print(`${sentence}\n`);
}

/** An argument parser for a JSON object (x-arguments, a policy definition). */
export function parseJsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`must be JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** An argument parser for a non-negative integer. */
export function parseCount(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number)) throw new InvalidArgumentError('must be a non-negative integer');
  return number;
}

/** An argument parser for any integer (a policy priority may be negative). */
export function parseInteger(value: string): number {
  const number = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(number)) throw new InvalidArgumentError('must be an integer');
  return number;
}
