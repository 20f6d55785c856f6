/**
 * `warren ctl`'s exit codes, which scripts can rely on, and the error that carries one. Each failure
 * class gets its own code so a script can tell "nothing there" (3) from "wrong password" (4) from
 * "broker down" (5) without parsing messages.
 */

/** Exit codes of `warren ctl` (documented in docs/ctl.md). */
export const CTL_EXIT_CODES = {
  /** The command did what it was asked. */
  success: 0,
  /** Bad arguments: commander's own errors, an invalid URL, JSON or file. */
  usage: 1,
  /** The server refused the request (a 4xx other than 401 and 404). */
  refused: 2,
  /** The object does not exist (404). */
  notFound: 3,
  /** Authentication failed, or the user lacks the tag the request needs (401). */
  authenticationFailed: 4,
  /** No answer: connection refused, DNS failure, timeout. */
  cannotConnect: 5,
  /** The server failed (5xx), or answered with something that is not the API's JSON. */
  serverError: 6,
} as const;

/** One of the exit codes above. */
export type CtlExitCode = (typeof CTL_EXIT_CODES)[keyof typeof CTL_EXIT_CODES];

/** A failure `warren ctl` reports on stderr and turns into its exit code. */
export class CtlError extends Error {
  constructor(
    readonly exitCode: CtlExitCode,
    message: string,
  ) {
    super(message);
  }
}

/** The exit code for an HTTP error status. */
export function exitCodeForStatus(status: number): CtlExitCode {
  if (status === 401) return CTL_EXIT_CODES.authenticationFailed;
  if (status === 404) return CTL_EXIT_CODES.notFound;
  if (status >= 500) return CTL_EXIT_CODES.serverError;
  return CTL_EXIT_CODES.refused;
}
