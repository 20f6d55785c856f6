/** Formatting of numbers, rates, sizes and times for display. */

const numberFormat = new Intl.NumberFormat('en-US');

/** 12345 -> "12,345"; anything not a number -> "–". */
export function formatNumber(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? numberFormat.format(value) : '–';
}

/** A rate per second with one decimal: "12.5/s". */
export function formatRate(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${value.toFixed(1)}/s` : '–';
}

/** Bytes in B, KiB, MiB or GiB. */
export function formatBytes(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let scaled = value;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${unit === 0 ? scaled : scaled.toFixed(1)} ${units[unit] ?? ''}`;
}

/** A duration in ms as "850 ms", "2.4 s" or "3.1 min". */
export function formatDurationMs(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}

/** An ISO time or ms since the epoch as local date and time ("2025-01-01 12:00:00.004"). */
export function formatTime(value: unknown): string {
  const date = typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) return '–';
  const pad = (part: number, width = 2): string => String(part).padStart(width, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** true/false as "yes"/"no". */
export function formatFlag(value: unknown): string {
  return value === true ? 'yes' : value === false ? 'no' : '–';
}
