/**
 * `warren ctl`: a command-line client of Warren's HTTP API (RabbitMQ's management API and the task
 * gateway). Nouns then verbs: `warren ctl queues list`, `warren ctl queues purge NAME`. It talks HTTP
 * only, so it works against any Warren (or, for the management nouns, RabbitMQ) it can reach.
 */
import type { Command } from 'commander';
import { registerAccess } from './ctl-access.js';
import { registerBindings } from './ctl-bindings.js';
import { addGlobalOptions, CTL_COMMAND_NAME } from './ctl-command.js';
import { registerConnections } from './ctl-connections.js';
import { registerDefinitions } from './ctl-definitions.js';
import { registerQueues, registerExchanges } from './ctl-queues.js';
import { registerTasks } from './ctl-tasks.js';

const EXIT_CODES_HELP = `
Global options go before the noun or after the verb's arguments.

Exit codes:
  0  success
  1  usage error (bad arguments, invalid --url, JSON or file)
  2  the server refused the request (4xx other than 401 and 404)
  3  not found (404)
  4  authentication failed (401: wrong credentials or a missing tag)
  5  cannot connect (connection refused, unknown host, timeout)
  6  server error (5xx)`;

/**
 * Adds `ctl` to the program. The program must have positional options enabled, so the global
 * options before the noun and a verb's own options (users add --password) never mix.
 */
export function registerCtlCommand(program: Command): void {
  const ctl = program.command(CTL_COMMAND_NAME)
    .description('manage a running node over its HTTP API (queues, exchanges, users, tasks, ...)')
    .enablePositionalOptions()
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', EXIT_CODES_HELP);
  addGlobalOptions(ctl);
  registerQueues(ctl);
  registerExchanges(ctl);
  registerBindings(ctl);
  registerConnections(ctl);
  registerAccess(ctl);
  registerDefinitions(ctl);
  registerTasks(ctl);
}
