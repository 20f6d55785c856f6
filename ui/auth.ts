/**
 * The credentials the UI sends with every /api request: an HTTP basic Authorization header value,
 * kept in sessionStorage (gone when the tab closes), set by the login form.
 */

const STORAGE_KEY = 'warren.authorization';
const USER_KEY = 'warren.username';

/** The stored Authorization header value, or undefined when nobody is logged in. */
export function storedAuthorization(): string | undefined {
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

/** The logged-in user's name, or undefined. */
export function storedUsername(): string | undefined {
  return sessionStorage.getItem(USER_KEY) ?? undefined;
}

/** Keeps the credentials for this tab's session. */
export function storeCredentials(username: string, authorization: string): void {
  sessionStorage.setItem(STORAGE_KEY, authorization);
  sessionStorage.setItem(USER_KEY, username);
}

/** Forgets the credentials (log out, or the API refused them). */
export function forgetCredentials(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  sessionStorage.removeItem(USER_KEY);
}

/** The basic Authorization header value for a username and password (UTF-8, as RabbitMQ reads it). */
export function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}
