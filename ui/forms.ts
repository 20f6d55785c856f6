/**
 * Small forms for the API's create and change actions: labelled fields, a submit button, and a status
 * line that shows the outcome (the API's error reason, or what was done).
 */
import { errorMessage } from './api.js';
import { el, replaceChildren } from './dom.js';

/** One field of a form. */
export interface Field {
  name: string;
  label: string;
  kind?: 'text' | 'password' | 'number' | 'checkbox' | 'select' | 'textarea';
  value?: string;
  checked?: boolean;
  /** Choices of a select. */
  choices?: string[];
  required?: boolean;
  placeholder?: string;
}

/** The submitted values of a form. */
export class FormValues {
  constructor(private readonly data: FormData) {}

  /** A text field's value ('' when absent). */
  text(name: string): string {
    const value = this.data.get(name);
    return typeof value === 'string' ? value : '';
  }

  /** Whether a checkbox is ticked. */
  flag(name: string): boolean {
    return this.data.get(name) !== null;
  }
}

/** What a submit handler answers: a message to show, or nothing. */
export type SubmitHandler = (values: FormValues, form: HTMLFormElement) => Promise<string | undefined>;

/** A form with `fields`; `onSubmit` runs on submit and its message (or error) shows under the button. */
export function actionForm(options: { id: string; fields: Field[]; submitLabel: string; onSubmit: SubmitHandler; inline?: boolean }): HTMLFormElement {
  const status = el('span', { class: 'status', role: 'status' });
  const button = el('button', { type: 'submit' }, options.submitLabel);
  const form = el('form', { id: options.id, class: options.inline === true ? 'action-form inline' : 'action-form' },
    ...options.fields.map(fieldElement), el('div', { class: 'actions' }, button, status));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    button.disabled = true;
    replaceChildren(status, 'working…');
    status.className = 'status';
    options.onSubmit(new FormValues(new FormData(form)), form).then(
      (message) => replaceChildren(status, message ?? 'done'),
      (error: unknown) => {
        status.className = 'status error';
        replaceChildren(status, errorMessage(error));
      },
    ).finally(() => (button.disabled = false));
  });
  return form;
}

function fieldElement(field: Field): HTMLElement {
  const kind = field.kind ?? 'text';
  const common = { name: field.name, required: field.required === true, placeholder: field.placeholder };
  let input: HTMLElement;
  if (kind === 'select') {
    input = el('select', common, ...(field.choices ?? []).map((choice) => el('option', { value: choice, selected: choice === field.value }, choice)));
  } else if (kind === 'textarea') {
    input = el('textarea', { ...common, rows: 4 }, field.value ?? '');
  } else if (kind === 'checkbox') {
    input = el('input', { type: 'checkbox', name: field.name, checked: field.checked === true });
  } else {
    input = el('input', { ...common, type: kind, value: field.value });
  }
  return el('label', { class: kind === 'checkbox' ? 'field checkbox' : 'field' }, el('span', {}, field.label), input);
}

/** A button that asks for confirmation (when `question` is given), then runs `action` and reports errors in `status`. */
export function actionButton(label: string, action: () => Promise<void>, options: { question?: string; status?: HTMLElement; danger?: boolean } = {}): HTMLButtonElement {
  const button = el('button', { type: 'button', class: options.danger === true ? 'danger' : undefined }, label);
  button.addEventListener('click', () => {
    if (options.question !== undefined && !window.confirm(options.question)) return;
    button.disabled = true;
    action().then(
      () => {
        if (options.status !== undefined) replaceChildren(options.status, `${label}: done`);
      },
      (error: unknown) => {
        if (options.status === undefined) window.alert(errorMessage(error));
        else replaceChildren(options.status, errorMessage(error));
      },
    ).finally(() => (button.disabled = false));
  });
  return button;
}
