/** The model list: one row per model (status, aliases, latest version), keyboard navigation,
 * the empty state and "Load more". */
import { button, h } from '../dom';
import { aliasBadges, ModelOrder, sortModels, statusBadge } from '../format';
import { ModelSummary } from '../contract';
import { badge, name } from './common';

export interface ListActions {
  open(model: string): void;
  more(): void;
}

/** What the body shows for `models`: the list, or why it is empty. */
export function modelList(
  models: ModelSummary[],
  order: ModelOrder,
  search: string,
  hasMore: boolean,
  actions: ListActions
): HTMLElement[] {
  if (!models.length) {
    return [
      h(
        'div',
        { class: 'nbops-empty' },
        search
          ? h('p', {}, `No model matches "${search}".`)
          : h(
              'p',
              {},
              'No registered models yet. Register one from a notebook with ',
              h('code', {}, 'nbops.log_model(model, name="my-model")'),
              '.'
            )
      )
    ];
  }
  const items = sortModels(models, order).map(m => modelItem(m, actions));
  const list = h('ul', { class: 'nbops-model-list', 'aria-label': 'Registered models' }, ...items);
  list.addEventListener('keydown', e => arrowKeys(e, list));
  const more = hasMore
    ? [button('Load more', () => actions.more(), { class: 'jp-Button nbops-button nbops-more' })]
    : [];
  return [list, ...more];
}

/** Up/Down move between the models, Home/End to the first/last. */
function arrowKeys(e: KeyboardEvent, list: HTMLElement): void {
  const items = Array.from(list.querySelectorAll<HTMLElement>('.nbops-model-item'));
  const i = items.indexOf(document.activeElement as HTMLElement);
  const target =
    e.key === 'ArrowDown' ? items[Math.min(i + 1, items.length - 1)]
    : e.key === 'ArrowUp' ? items[Math.max(i - 1, 0)]
    : e.key === 'Home' ? items[0]
    : e.key === 'End' ? items[items.length - 1]
    : null;
  if (target) {
    e.preventDefault();
    target.focus();
  }
}

function modelItem(m: ModelSummary, actions: ListActions): HTMLElement {
  const status = statusBadge(m.status);
  const li = h(
    'li',
    { class: 'nbops-model-item', 'data-model': m.name, tabindex: '0', role: 'button', 'aria-label': `Open model ${m.name}` },
    h('div', { class: 'nbops-model-row' }, name(m.name, 'nbops-model-name'), status ? badge(status) : null),
    h(
      'div',
      { class: 'nbops-model-meta' },
      ...aliasBadges(m.aliases).map(badge),
      h('span', { class: 'nbops-latest' }, m.latest_version ? `latest v${m.latest_version}` : 'no versions')
    )
  );
  const open = (): void => actions.open(m.name);
  li.addEventListener('click', open);
  li.addEventListener('keydown', e => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open();
    }
  });
  return li;
}
