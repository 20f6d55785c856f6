/**
 * The Warren management UI: a login form, then pages chosen by the location hash
 * (`#/overview`, `#/queues`, `#/queues/{vhost}/{name}`, `#/tasks/{id}`, ...). Each page renders into
 * <main>; leaving it aborts its signal, which stops its timers.
 */
import { callApi, errorMessage, LOGGED_OUT_EVENT } from './api.js';
import { basicAuthorization, forgetCredentials, storeCredentials, storedAuthorization, storedUsername } from './auth.js';
import { el, pageLink, replaceChildren } from './dom.js';
import type { Page } from './page.js';
import { accessPage } from './pages/access.js';
import { connectionsPage } from './pages/connections.js';
import { exchangesPage } from './pages/exchanges.js';
import { overviewPage } from './pages/overview.js';
import { policiesPage } from './pages/policies.js';
import { queuesPage } from './pages/queues.js';
import { tasksPage } from './pages/tasks.js';

/** The navigation: hash segment, label, page. */
const PAGES: [string, string, Page][] = [
  ['overview', 'Overview', overviewPage],
  ['queues', 'Queues', queuesPage],
  ['exchanges', 'Exchanges', exchangesPage],
  ['connections', 'Connections', connectionsPage],
  ['access', 'Users & vhosts', accessPage],
  ['policies', 'Policies', policiesPage],
  ['tasks', 'Tasks', tasksPage],
];

/** RabbitMQ's user tags that open the management API (docs/management.md, "Who may do what"). */
const MANAGEMENT_TAGS = ['administrator', 'monitoring', 'policymaker', 'management'];

let leaving: AbortController | undefined;

function pageRoot(): HTMLElement {
  const root = document.getElementById('page');
  if (root === null) throw new Error('index.html has no #page');
  return root;
}

/** Renders the page the hash names (or the login form when nobody is logged in). */
function route(): void {
  leaving?.abort();
  leaving = new AbortController();
  const root = pageRoot();
  if (storedAuthorization() === undefined) {
    renderLogin(root);
    return;
  }
  renderHeader();
  const [path = '', search = ''] = window.location.hash.replace(/^#\/?/, '').split('?');
  const [first = 'overview', ...segments] = path.split('/').filter((segment) => segment !== '').map(decodeURIComponent);
  const entry = PAGES.find(([name]) => name === first);
  replaceChildren(root);
  if (entry === undefined) {
    replaceChildren(root, el('p', { class: 'error' }, `No page '${first}'.`));
    return;
  }
  document.title = `Warren · ${entry[1]}`;
  for (const link of document.querySelectorAll('#nav a')) link.classList.toggle('current', link.getAttribute('data-page') === first);
  Promise.resolve(entry[2](root, { segments, query: new URLSearchParams(search), signal: leaving.signal })).catch((error: unknown) => {
    root.append(el('p', { class: 'error' }, errorMessage(error)));
  });
}

function renderHeader(): void {
  const nav = document.getElementById('nav');
  const whoami = document.getElementById('whoami');
  if (nav !== null && nav.childElementCount === 0) {
    for (const [name, label] of PAGES) {
      const link = pageLink(label, [name]);
      link.dataset['page'] = name;
      nav.append(link);
    }
  }
  if (whoami !== null) {
    const logout = el('button', { type: 'button', class: 'link', id: 'logout' }, 'log out');
    logout.addEventListener('click', () => {
      forgetCredentials();
      route();
    });
    replaceChildren(whoami, storedUsername() ?? '', ' ', logout);
  }
}

function renderLogin(root: HTMLElement): void {
  const nav = document.getElementById('nav');
  if (nav !== null) replaceChildren(nav);
  const whoami = document.getElementById('whoami');
  if (whoami !== null) replaceChildren(whoami);
  document.title = 'Warren · log in';
  const status = el('p', { class: 'status error', role: 'alert' });
  const username = el('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = el('input', { name: 'password', type: 'password', autocomplete: 'current-password' });
  const form = el('form', { id: 'login', class: 'login panel' },
    el('h2', {}, 'Log in to Warren'),
    el('label', { class: 'field' }, el('span', {}, 'Username'), username),
    el('label', { class: 'field' }, el('span', {}, 'Password'), password),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Log in')),
    status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const authorization = basicAuthorization(username.value, password.value);
    callApi<{ name: string; tags: string[] }>('GET', '/api/whoami', { authorization }).then((user) => {
      if (!user.tags.some((tag) => MANAGEMENT_TAGS.includes(tag))) {
        replaceChildren(status, `User '${user.name}' has none of the tags the management UI needs (${MANAGEMENT_TAGS.join(', ')}).`);
        return;
      }
      storeCredentials(user.name, authorization);
      route();
    }, (error: unknown) => replaceChildren(status, errorMessage(error)));
  });
  replaceChildren(root, form);
}

window.addEventListener('hashchange', route);
window.addEventListener(LOGGED_OUT_EVENT, route);
route();
