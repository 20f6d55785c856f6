/**
 * `warren ctl tasks`: list, show, retry and cancel tasks through the task gateway (/api/tasks,
 * docs/tasks-http.md). Tasks live in the vhost `/`, whatever --vhost says.
 */
import { Option, type Command } from 'commander';
import { isRecord, segment } from './ctl-client.js';
import { addVerb, argumentAt, parseCount, parsePositiveInteger, verbAction, type CtlContext } from './ctl-command.js';
import { formatJson, formatRecord, formatTable, print } from './ctl-output.js';

const TASK_STATES = ['queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'] as const;
const TASK_COLUMNS = ['id', 'name', 'state', 'attempts', 'createdAt', 'finishedAt'] as const;

interface TaskListOptions {
  name?: string;
  state?: string;
  limit?: number;
  offset?: number;
  columns?: string;
}

/** Prints one task: its fields as a two-column table, or its JSON. */
function printTask(context: CtlContext, task: unknown): void {
  print(context.format === 'json' || !isRecord(task) ? formatJson(task) : formatRecord(task));
}

/** Registers `tasks`. */
export function registerTasks(ctl: Command): void {
  const tasks = ctl.command('tasks').alias('task').description('async tasks: list, get, retry, cancel');
  addVerb(tasks, 'list', 'list tasks, newest first')
    .addOption(new Option('--name <name>', 'only tasks of this name'))
    .addOption(new Option('--state <state>', 'only tasks in this state').choices(TASK_STATES))
    .addOption(new Option('--limit <n>', 'most tasks listed (1 to 1000, the server\'s default 100)').argParser(parsePositiveInteger))
    .addOption(new Option('--offset <n>', 'skip this many of the newest').argParser(parseCount))
    .addOption(new Option('--columns <fields>', 'comma-separated fields to show in the table (dotted for nested ones)'))
    .action(verbAction(async (context, verb) => {
      const options = verb.opts<TaskListOptions>();
      const answer = await context.client.request('GET', '/api/tasks', {
        query: { name: options.name, state: options.state, limit: options.limit, offset: options.offset },
      });
      const items = Array.isArray(answer) ? answer.filter(isRecord) : [];
      const columns = options.columns === undefined ? TASK_COLUMNS : options.columns.split(',').filter((column) => column !== '');
      print(context.format === 'json' ? formatJson(answer) : formatTable(items, columns));
    }));
  addVerb(tasks, 'get', 'show a task: state, attempts, result or error, progress').argument('<id>', 'task id')
    .action(verbAction(async (context, verb) => {
      printTask(context, await context.client.request('GET', `/api/tasks/${segment(argumentAt(verb, 0))}`));
    }));
  addVerb(tasks, 'retry', 'run a failed or dead task again').argument('<id>', 'task id')
    .action(verbAction(async (context, verb) => {
      printTask(context, await context.client.request('POST', `/api/tasks/${segment(argumentAt(verb, 0))}/retry`));
    }));
  addVerb(tasks, 'cancel', 'cancel a queued or running task').argument('<id>', 'task id')
    .action(verbAction(async (context, verb) => {
      printTask(context, await context.client.request('DELETE', `/api/tasks/${segment(argumentAt(verb, 0))}`));
    }));
}
