/**
 * `warren ctl definitions export [FILE]` and `import FILE`: the broker's definitions (vhosts, users
 * with password hashes, permissions, exchanges, queues, bindings, policies) in RabbitMQ's format.
 * `-` as FILE means stdout or stdin.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { segment } from './ctl-client.js';
import { addVerb, confirm, optionalArgumentAt, argumentAt, verbAction, type CtlContext } from './ctl-command.js';
import { CTL_EXIT_CODES, CtlError } from './ctl-errors.js';
import { formatJson, print } from './ctl-output.js';

/** FILE standing for stdout (export) or stdin (import). */
const STANDARD_STREAM = '-';

function definitionsPath(context: CtlContext, vhostOnly: boolean | undefined): string {
  return vhostOnly === true ? `/api/definitions/${segment(context.vhost)}` : '/api/definitions';
}

async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The JSON of a definitions file; an unreadable or malformed file is a usage error. */
async function readDefinitions(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === STANDARD_STREAM ? await readStandardInput() : await readFile(file, 'utf8');
  } catch (error) {
    throw new CtlError(CTL_EXIT_CODES.usage, `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CtlError(CTL_EXIT_CODES.usage, `${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Registers `definitions`. */
export function registerDefinitions(ctl: Command): void {
  const definitions = ctl.command('definitions').description('definitions in RabbitMQ\'s format: export, import');
  const vhostOnly = (): Option => new Option('--vhost-only', 'only --vhost\'s definitions (exchanges, queues, bindings, policies), not the whole broker\'s');
  addVerb(definitions, 'export', 'write the definitions as JSON to FILE, or to stdout').argument('[file]', 'file to write (- or none: stdout)')
    .addOption(vhostOnly())
    .action(verbAction(async (context, verb) => {
      const file = optionalArgumentAt(verb, 0) ?? STANDARD_STREAM;
      const exported = await context.client.request('GET', definitionsPath(context, verb.opts<{ vhostOnly?: boolean }>().vhostOnly));
      if (file === STANDARD_STREAM) {
        print(formatJson(exported));
        return;
      }
      try {
        await writeFile(file, formatJson(exported));
      } catch (error) {
        throw new CtlError(CTL_EXIT_CODES.usage, `cannot write ${file}: ${error instanceof Error ? error.message : String(error)}`);
      }
      confirm(context, `exported definitions to ${file}`);
    }));
  addVerb(definitions, 'import', 'create everything a definitions file describes').argument('<file>', 'file to read (-: stdin)')
    .addOption(vhostOnly())
    .action(verbAction(async (context, verb) => {
      const file = argumentAt(verb, 0);
      const body = await readDefinitions(file);
      await context.client.request('POST', definitionsPath(context, verb.opts<{ vhostOnly?: boolean }>().vhostOnly), { body });
      confirm(context, `imported definitions from ${file}`);
    }));
}
