/**
 * Cron expressions of schedules: five fields (minute hour day-of-month month day-of-week), evaluated in
 * an IANA time zone by cron-parser. A slot is an instant (ms since the epoch) the expression matches.
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { TaskValidationError } from './task-errors.js';

/** Longest cron expression accepted. */
export const CRON_EXPRESSION_MAX_LENGTH = 200;

/** Throws TaskValidationError unless `tz` is an IANA time zone this runtime knows (e.g. 'Europe/Berlin', 'UTC'). */
export function assertTimeZone(tz: unknown): asserts tz is string {
  if (typeof tz !== 'string' || tz === '' || tz.length > 100) throw new TaskValidationError(`tz must be an IANA time zone name, got ${JSON.stringify(tz)}`);
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new TaskValidationError(`unknown time zone ${JSON.stringify(tz)}: use an IANA name such as 'Europe/Berlin' or 'UTC'`);
  }
}

/** Throws TaskValidationError unless `cron` is a five-field cron expression that matches some instant. */
export function assertCronExpression(cron: unknown, tz: string): asserts cron is string {
  if (typeof cron !== 'string' || cron.length > CRON_EXPRESSION_MAX_LENGTH || cron.trim().split(/\s+/).length !== 5) {
    throw new TaskValidationError(`cron must be five fields (minute hour day-of-month month day-of-week), got ${JSON.stringify(cron)}`);
  }
  try {
    expression(cron, tz, 0).next();
  } catch (error) {
    throw new TaskValidationError(`bad cron expression ${JSON.stringify(cron)}: ${(error as Error).message}`);
  }
}

/** The latest slot at or before `at`; undefined when there is none or the expression does not parse. */
export function latestSlotAtOrBefore(cron: string, tz: string, at: number): number | undefined {
  // prev() is strictly before its start, so start one millisecond later to include `at` itself.
  return slot(() => expression(cron, tz, at + 1).prev().getTime());
}

/** The first slot strictly after `at`; undefined when there is none or the expression does not parse. */
export function nextSlotAfter(cron: string, tz: string, at: number): number | undefined {
  return slot(() => expression(cron, tz, at).next().getTime());
}

function expression(cron: string, tz: string, currentDate: number): CronExpression {
  return CronExpressionParser.parse(cron, { currentDate, tz, strict: false });
}

/** A stored expression that no longer parses (written by another version, say) has no slots: never throw. */
function slot(compute: () => number): number | undefined {
  try {
    const value = compute();
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
