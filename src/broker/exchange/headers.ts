/**
 * Headers exchange: a binding's arguments are matched against the message's headers.
 * x-match "all" (default) needs every argument to match, "any" needs one; the "-with-x" variants
 * also compare arguments whose names start with "x-", which plain all/any ignore.
 */
import type { FieldTable, FieldValue } from '../../codec/index.js';
import { fieldValuesEqual } from '../arguments.js';
import type { Message } from '../message.js';
import type { UniqueList } from '../unique-list.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/** Routes by matching message headers against binding arguments. */
export class HeadersExchange extends Exchange {
  get type(): string {
    return 'headers';
  }

  route(message: Message, _routingKey: string, out: UniqueList<Destination>): void {
    if (this.bindings.size === 0) return;
    const headers = message.properties.headers ?? {};
    for (const binding of this.bindings.values()) {
      if (headersMatch(binding.arguments, headers)) out.add(binding.destination);
    }
  }

  protected addRoute(_binding: Binding): void {}

  protected removeRoute(_binding: Binding): void {}
}

/** The x-match modes RabbitMQ accepts. */
export const X_MATCH_MODES = ['all', 'any', 'all-with-x', 'any-with-x'] as const;

function headersMatch(args: FieldTable, headers: FieldTable): boolean {
  const mode = xMatchMode(args['x-match']);
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  const any = mode === 'any' || mode === 'any-with-x';
  for (const key of Object.keys(args)) {
    if (key === 'x-match' || (!withX && key.startsWith('x-'))) continue;
    const matched = argumentMatches(args[key] as FieldValue, key, headers);
    if (any && matched) return true;
    if (!any && !matched) return false;
  }
  // With no argument left to compare, "all" holds vacuously and "any" fails.
  return !any;
}

function argumentMatches(expected: FieldValue, key: string, headers: FieldTable): boolean {
  if (!(key in headers)) return false;
  // A binding argument of type void asks only that the header be present.
  if (expected === null) return true;
  return fieldValuesEqual(expected, headers[key]);
}

function xMatchMode(value: FieldValue | undefined): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString();
  return 'all';
}
