/**
 * Building DOM nodes without innerHTML: every piece of text goes in as a text node (or textContent),
 * so names, payloads and error messages from the API can never become markup.
 */

/** What an element's children may be: nodes, or text (numbers too); null, undefined and false are skipped. */
export type Child = Node | string | number | null | undefined | false;

/** Attributes (true: present without a value; false or undefined: absent) and `on<event>` listeners. */
export type Properties = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/** A new `tag` element with `properties` and `children`. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, properties: Properties = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) {
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

/** Appends `children` to `parent` (text as text nodes). */
export function append(parent: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/** Replaces everything inside `parent` with `children`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A link to a page of the UI, by its hash path segments (each encoded) and query. */
export function pageLink(text: Child, segments: string[], query: Record<string, string> = {}): HTMLAnchorElement {
  return el('a', { href: pageHash(segments, query) }, text);
}

/** The location hash of a page: `#/queues/%2F/orders?page=2`. */
export function pageHash(segments: string[], query: Record<string, string> = {}): string {
  const search = new URLSearchParams(query).toString();
  return `#/${segments.map(encodeURIComponent).join('/')}${search === '' ? '' : `?${search}`}`;
}

/** A `<pre>` showing a value as indented JSON (or as is, when it is a string). */
export function jsonBlock(value: unknown): HTMLPreElement {
  return el('pre', { class: 'json' }, typeof value === 'string' ? value : JSON.stringify(value, null, 2) ?? 'undefined');
}

/** A definition list of label/value rows. */
export function facts(rows: [string, Child][]): HTMLDListElement {
  const list = el('dl', { class: 'facts' });
  for (const [label, value] of rows) append(list, [el('dt', {}, label), el('dd', {}, value ?? '')]);
  return list;
}

/** A section with a heading. */
export function section(title: string, ...children: Child[]): HTMLElement {
  return el('section', { class: 'panel' }, el('h2', {}, title), ...children);
}
