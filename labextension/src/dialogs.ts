/** The bodies of the promote and rollback dialogs: nothing pre-filled, nothing moves without a
 * reason. Required inputs are `:invalid` until filled, which keeps JupyterLab's Dialog from
 * accepting (its accept button is disabled and Enter does nothing). */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { ModelDetail, PromoteRequest, RollbackRequest } from './contract';
import { h } from './dom';
import { ALIAS_PATTERN, aliasProblem, currentOf, reasonProblem } from './format';

function field(
  label: string,
  input: HTMLInputElement,
  hint: HTMLElement
): HTMLElement {
  return h('label', { class: 'nbops-field' }, h('span', { class: 'nbops-field-label' }, label), input, hint);
}

/** Validation of the dialog's inputs: messages under each field, re-checked on every input. */
abstract class CheckedBody<T> extends Widget implements Dialog.IBodyWidget<T> {
  protected abstract check(): void;
  abstract getValue(): T;

  constructor() {
    super();
    // Listening from the start: no input typed before the body is attached is missed.
    this.node.addEventListener('input', () => this.check());
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    // Let the Dialog (attached after its body) see the empty required fields as invalid.
    requestAnimationFrame(() => {
      const first = this.node.querySelector('input');
      first?.dispatchEvent(new Event('input', { bubbles: true }));
    });
  }
}

/** Promote: an alias (free text with the model's aliases as suggestions) and a reason. */
export class PromoteBody extends CheckedBody<PromoteRequest> {
  private readonly aliasInput: HTMLInputElement;
  private readonly reasonInput: HTMLInputElement;
  private readonly aliasHint: HTMLElement;
  private readonly reasonHint: HTMLElement;
  private touched = false;

  constructor(
    private readonly version: string,
    private readonly aliases: Record<string, string>
  ) {
    super();
    this.addClass('nbops-dialog');
    const listId = `nbops-aliases-${Math.random().toString(36).slice(2)}`;
    this.aliasInput = h('input', {
      class: 'jp-mod-styled nbops-input-alias',
      list: listId,
      required: '',
      pattern: ALIAS_PATTERN,
      autocomplete: 'off',
      placeholder: 'e.g. champion',
      'aria-describedby': `${listId}-alias-hint`
    });
    this.reasonInput = h('input', {
      class: 'jp-mod-styled nbops-input-reason',
      required: '',
      pattern: '.*\\S.*',
      placeholder: 'why this version (kept in the audit trail)',
      'aria-describedby': `${listId}-reason-hint`
    });
    this.aliasHint = h('div', { class: 'nbops-field-hint', id: `${listId}-alias-hint` });
    this.reasonHint = h('div', { class: 'nbops-field-hint', id: `${listId}-reason-hint` });
    const known = Object.keys(aliases).sort();
    this.node.append(
      h('p', {}, `Point an alias at version ${version}. The move is audited.`),
      field('Alias', this.aliasInput, this.aliasHint),
      h('datalist', { id: listId }, ...known.map(a => h('option', { value: a }))),
      field('Reason', this.reasonInput, this.reasonHint)
    );
    this.check();
  }

  protected check(): void {
    const alias = this.aliasInput.value.trim();
    const reason = this.reasonInput.value.trim();
    this.touched = this.touched || alias !== '' || reason !== '';
    const aliasError = this.touched ? aliasProblem(alias) : '';
    const current = this.aliases[alias];
    this.aliasHint.textContent =
      aliasError ||
      (current === undefined
        ? alias
          ? `New alias "${alias}" on v${this.version}.`
          : 'Type an alias or pick one of the model\'s aliases.'
        : current === this.version
          ? `"${alias}" is already on v${this.version}.`
          : `"${alias}" moves from v${current} to v${this.version}.`);
    this.aliasHint.classList.toggle('nbops-mod-error', aliasError !== '');
    const reasonError = this.touched ? reasonProblem(reason) : '';
    this.reasonHint.textContent = reasonError;
    this.reasonHint.classList.toggle('nbops-mod-error', reasonError !== '');
  }

  getValue(): PromoteRequest {
    return {
      alias: this.aliasInput.value.trim(),
      version: this.version,
      reason: this.reasonInput.value.trim()
    };
  }
}

/** Rollback: the sentence naming the move, and a reason. */
export class RollbackBody extends CheckedBody<RollbackRequest> {
  private readonly reasonInput: HTMLInputElement;
  private readonly reasonHint: HTMLElement;

  constructor(text: string) {
    super();
    this.addClass('nbops-dialog');
    this.reasonInput = h('input', {
      class: 'jp-mod-styled nbops-input-reason',
      required: '',
      pattern: '.*\\S.*',
      placeholder: 'why roll back (kept in the audit trail)'
    });
    this.reasonHint = h('div', { class: 'nbops-field-hint' });
    this.node.append(h('p', {}, text), field('Reason', this.reasonInput, this.reasonHint));
  }

  protected check(): void {
    const problem = this.reasonInput.value ? reasonProblem(this.reasonInput.value.trim()) : '';
    this.reasonHint.textContent = problem;
    this.reasonHint.classList.toggle('nbops-mod-error', problem !== '');
  }

  getValue(): RollbackRequest {
    return { reason: this.reasonInput.value.trim() };
  }
}

/** Ask which alias to point at `version`, and why; null when cancelled. The request carries
 * the version the alias was shown on, so a move made meanwhile answers 409. */
export async function askPromote(d: ModelDetail, version: string): Promise<PromoteRequest | null> {
  const result = await showDialog<PromoteRequest>({
    title: `Promote ${d.name} v${version}`,
    body: new PromoteBody(version, d.aliases),
    focusNodeSelector: '.nbops-input-alias',
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
  });
  if (!result.button.accept || !result.value) {
    return null;
  }
  return { ...result.value, expected_current: currentOf(d.aliases, result.value.alias) };
}

/** Confirm moving `alias` back to `target`, with a reason; null when cancelled. */
export async function askRollback(d: ModelDetail, alias: string, target: string): Promise<RollbackRequest | null> {
  const result = await showDialog<RollbackRequest>({
    title: `Roll back "${alias}" to v${target}?`,
    body: new RollbackBody(`"${alias}" of ${d.name} moves from v${d.aliases[alias]} back to v${target}.`),
    focusNodeSelector: '.nbops-input-reason',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: `Roll back to v${target}` })]
  });
  if (!result.button.accept) {
    return null;
  }
  return { ...(result.value ?? {}), expected_current: currentOf(d.aliases, alias) };
}
