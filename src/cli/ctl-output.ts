/**
 * How `warren ctl` prints answers: `table` (aligned columns under a header, numbers right-aligned,
 * nested values as compact JSON) or `json` (the API's JSON, pretty-printed).
 */

/** The output formats of `--format`. */
export const OUTPUT_FORMATS = ['table', 'json'] as const;
/** One output format. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Columns are separated by this many spaces. */
const COLUMN_GAP = '  ';

/** The value at a dotted path ('queue.name'), or undefined. */
export function valueAt(item: Record<string, unknown>, path: string): unknown {
  let value: unknown = item;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A value as one table cell: strings as they are, nested values as compact JSON, nothing as ''. */
export function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.replace(/[\r\n\t]/g, ' ');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Rows under a header of the column paths, each column as wide as its widest cell. */
export function formatTable(items: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const rows = items.map((item) => columns.map((column) => valueAt(item, column)));
  const numeric = columns.map((_, index) => rows.length > 0 && rows.every((row) => typeof row[index] === 'number'));
  const cells = [columns.map(String), ...rows.map((row) => row.map(cellText))];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => (line[index] ?? '').length)));
  const lines = cells.map((line) => line
    .map((cell, index) => (numeric[index] === true ? cell.padStart(widths[index] ?? 0) : cell.padEnd(widths[index] ?? 0)))
    .join(COLUMN_GAP)
    .trimEnd());
  return `${lines.join('\n')}\n`;
}

/** One object as a two-column table of its fields and their values. */
export function formatRecord(item: Record<string, unknown>): string {
  return formatTable(Object.entries(item).map(([field, value]) => ({ field, value })), ['field', 'value']);
}

/** JSON as the API sent it, indented. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Writes to stdout. */
export function print(text: string): void {
  process.stdout.write(text);
}
