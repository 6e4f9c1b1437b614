/** Small pieces every view of the Models panel uses: badges, names, loading, errors, notes. */
import { button, h } from '../dom';
import { Badge } from '../format';

export function badge(b: Badge): HTMLElement {
  return h('span', { class: b.className, title: b.title }, b.text);
}

/** A name cut with an ellipsis by CSS; the full name shows on hover. */
export function name(text: string, cls: string, tag: 'span' | 'h3' = 'span'): HTMLElement {
  return h(tag, { class: `nbops-ellipsis ${cls}`, title: text }, text);
}

export function loading(text: string): HTMLElement {
  return h('div', { class: 'nbops-loading', role: 'status' }, h('span', { class: 'nbops-spinner' }), text);
}

/** The box shown instead of a view whose request failed, with a Retry button. */
export function errorBox(message: string, status: number, retry: () => void): { box: HTMLElement; retry: HTMLElement } {
  const kind = status === 503 ? 'store' : status >= 400 && status < 500 ? 'request' : 'server';
  const heading =
    status === 503
      ? 'The model store is unreachable'
      : status === 404
        ? 'Not found'
        : status >= 400
          ? `Request refused (${status})`
          : 'No answer from the Jupyter server';
  const retryButton = button('Retry', retry, { class: 'jp-Button nbops-button nbops-mod-primary nbops-retry' });
  const box = h(
    'div',
    { class: `nbops-error nbops-error-${kind}`, role: 'alert', 'data-status': String(status) },
    h('strong', {}, heading),
    h('p', { class: 'nbops-error-message' }, message),
    retryButton
  );
  return { box, retry: retryButton };
}

/** A note on top of `body` that goes away after 8 s. */
export function notify(body: HTMLElement, text: string, kind: 'ok' | 'error'): void {
  const note = h('div', { class: `nbops-note nbops-note-${kind}`, role: 'status' }, text);
  body.prepend(note);
  window.setTimeout(() => note.remove(), 8000);
}
