/**
 * Headless Chromium for the web UI tests: Debian's chromium package, driven by playwright-core. In CI
 * a missing chromium fails the tests that use it; elsewhere they are skipped.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';
const CHROMIUM = '/usr/bin/chromium';

/** Why Chromium cannot run here, or undefined when it can. */
export const unavailable: string | undefined = existsSync(CHROMIUM) ? undefined : 'no /usr/bin/chromium (install Debian\'s chromium package)';

/** The `skip` option for browser tests: outside CI a missing chromium skips them; in CI it must fail them. */
export const skip: string | false = unavailable !== undefined && !inCi ? `skipped: ${unavailable}` : false;

/** Launches headless Chromium (no sandbox: tests run as root in containers). */
export function launchChromium(): Promise<Browser> {
  if (unavailable !== undefined) throw new Error(unavailable);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}
