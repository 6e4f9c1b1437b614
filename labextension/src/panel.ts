/** The "Models" sidebar: model list → model view (versions, lineage, status, audit, actions).
 *
 * Built from JupyterLab's parts (Toolbar, ToolbarButton, styled inputs and selects, Dialog)
 * and themed by `--jp-*` variables only; laid out for the default ~250 px sidebar first. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { refreshIcon, Styling, Toolbar, ToolbarButton } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import {
  AliasChange,
  LineageGraph,
  ModelDetail,
  ModelPage,
  ModelSummary,
  MonitorStatus,
  PromoteRequest,
  RollbackRequest,
  VersionInfo
} from './contract';
import { PromoteBody, RollbackBody } from './dialogs';
import { button, h } from './dom';
import {
  aliasBadges,
  aliasOrder,
  auditLine,
  Badge,
  currentOf,
  formatTime,
  gateBadge,
  GATE_RUN_TAG,
  metricSummary,
  ModelOrder,
  sortModels,
  sortVersions,
  statusBadge
} from './format';
import { LineageView } from './lineage';
import { ApiError, query, requestAPI } from './request';
import { openGateReport, openSnapshot } from './snapshot';

export const REFRESH_MS = 30_000;
const PAGE_SIZE = 50;
const MAX_PAGE = 1000;

function badge(b: Badge): HTMLElement {
  return h('span', { class: b.className, title: b.title }, b.text);
}

function describe(error: unknown): { message: string; status: number } {
  if (error instanceof ApiError) {
    return { message: error.message, status: error.status };
  }
  return { message: String(error), status: 0 };
}

/** A name cut with an ellipsis by CSS; the full name shows on hover. */
function name(text: string, cls: string, tag: 'span' | 'h3' = 'span'): HTMLElement {
  return h(tag, { class: `nbops-ellipsis ${cls}`, title: text }, text);
}

export class RegistryPanel extends Panel {
  private readonly body: HTMLElement;
  private readonly searchInput: HTMLInputElement;
  private readonly orderSelect: HTMLSelectElement;
  private models: ModelSummary[] = [];
  private nextToken: string | null = null;
  private current: string | null = null;
  private lineage: LineageView | null = null;
  private timer = 0;
  private searchTimer = 0;
  private openedAt = 0;
  private painted = false;
  /** What the body shows now: a refresh keeps a list or a model view in place. */
  private shown: 'loading' | 'list' | 'model' | 'error' = 'loading';
  /** The one request in flight; refreshes wait for it instead of overlapping. */
  private inflight: Promise<void> | null = null;

  constructor(private readonly app: JupyterFrontEnd) {
    super();
    this.id = 'nbops-registry';
    this.addClass('nbops-panel');
    this.title.caption = 'Models (MLflow model registry)';

    const toolbar = new Toolbar();
    toolbar.addClass('nbops-toolbar');
    const heading = new Widget({ node: h('h2', { class: 'nbops-title' }, 'Models') });
    toolbar.addItem('title', heading);
    toolbar.addItem('spacer', Toolbar.createSpacerItem());
    toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        className: 'nbops-refresh',
        tooltip: 'Refresh the models',
        onClick: () => void this.refresh()
      })
    );

    this.searchInput = h('input', {
      class: 'jp-mod-styled nbops-search',
      type: 'search',
      placeholder: 'Search models',
      'aria-label': 'Search models by name'
    });
    this.searchInput.addEventListener('input', () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => void this.loadList(), 250);
    });
    this.orderSelect = h(
      'select',
      { class: 'nbops-order', id: 'nbops-order' },
      h('option', { value: 'name' }, 'name'),
      h('option', { value: 'status' }, 'status (worst first)'),
      h('option', { value: 'updated' }, 'last update')
    );
    this.orderSelect.addEventListener('change', () => this.renderList());
    const filters = new Widget({
      node: h(
        'div',
        { class: 'nbops-filters' },
        this.searchInput,
        h(
          'div',
          { class: 'nbops-order-row' },
          h('label', { class: 'nbops-order-label', for: 'nbops-order' }, 'Sort by'),
          Styling.wrapSelect(this.orderSelect)
        )
      )
    });
    this.body = h('div', { class: 'nbops-body', 'aria-live': 'polite' });
    this.addWidget(toolbar);
    this.addWidget(filters);
    this.addWidget(new Widget({ node: this.body }));
  }

  /** Mark the opening of the panel (first paint is measured from here). */
  protected onAfterShow(): void {
    if (!this.painted) {
      this.openedAt = performance.now();
      performance.mark('nbops:panel-open');
    }
    void this.refresh();
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => {
      if (this.isVisible && !this.inflight && !document.querySelector('.jp-Dialog')) {
        void this.refresh();
      }
    }, REFRESH_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    window.clearTimeout(this.searchTimer);
    this.lineage?.dispose();
    super.dispose();
  }

  /**
   * Re-read what is shown, keeping the pages loaded with "Load more" and the scroll position.
   * A refresh asked for while a request is pending joins it: refreshes never overlap.
   */
  refresh(): Promise<void> {
    if (this.inflight) {
      return this.inflight;
    }
    return this.current ? this.loadModel(this.current, 'keep') : this.loadList('keep');
  }

  /** Run `work` as the one request in flight, with the loading state on the panel. */
  private async exclusive(work: () => Promise<void>): Promise<void> {
    while (this.inflight) {
      await this.inflight.catch(() => undefined);
    }
    this.node.classList.add('nbops-mod-busy');
    this.body.setAttribute('aria-busy', 'true');
    const run = work().finally(() => {
      this.inflight = null;
      this.node.classList.remove('nbops-mod-busy');
      this.body.removeAttribute('aria-busy');
    });
    this.inflight = run;
    return run;
  }

  private showLoading(text: string): void {
    this.shown = 'loading';
    this.body.replaceChildren(
      h('div', { class: 'nbops-loading', role: 'status' }, h('span', { class: 'nbops-spinner' }), text)
    );
  }

  private showError(error: unknown, retry: () => void): void {
    const { message, status } = describe(error);
    const kind = status === 503 ? 'store' : status >= 400 && status < 500 ? 'request' : 'server';
    const heading =
      status === 503
        ? 'The model store is unreachable'
        : status === 404
          ? 'Not found'
          : status >= 400
            ? `Request refused (${status})`
            : 'No answer from the Jupyter server';
    this.shown = 'error';
    const retryButton = button('Retry', retry, { class: 'jp-Button nbops-button nbops-mod-primary nbops-retry' });
    this.body.replaceChildren(
      h(
        'div',
        { class: `nbops-error nbops-error-${kind}`, role: 'alert', 'data-status': String(status) },
        h('strong', {}, heading),
        h('p', { class: 'nbops-error-message' }, message),
        retryButton
      )
    );
    retryButton.focus();
  }

  private notify(text: string, kind: 'ok' | 'error'): void {
    const note = h('div', { class: `nbops-note nbops-note-${kind}`, role: 'status' }, text);
    this.body.prepend(note);
    window.setTimeout(() => note.remove(), 8000);
  }

  // -- list ------------------------------------------------------------------------------
  /**
   * The model list. `reset`: the first page, from the top (a new search, back from a model);
   * `keep`: every page loaded so far, at the same scroll position; `more`: the next page.
   */
  loadList(mode: 'reset' | 'keep' | 'more' = 'reset'): Promise<void> {
    return this.exclusive(async () => {
      const keep = mode === 'keep' && this.shown === 'list';
      this.current = null;
      if (mode === 'reset' || (mode === 'keep' && !keep)) {
        this.showLoading('Loading models…');
      }
      const scroll = this.body.scrollTop;
      const size = keep ? Math.min(Math.max(this.models.length, PAGE_SIZE), MAX_PAGE) : PAGE_SIZE;
      const append = mode === 'more';
      try {
        const page = await requestAPI<ModelPage>(
          'models' +
            query({
              search: this.searchInput.value.trim(),
              max_results: size,
              page_token: append ? this.nextToken : undefined
            })
        );
        if (this.current) {
          return; // the user opened a model meanwhile
        }
        this.models = append ? [...this.models, ...page.models] : page.models;
        this.nextToken = page.next_page_token;
        this.renderList();
        if (keep || append) {
          this.body.scrollTop = scroll;
        }
      } catch (error) {
        if (keep) {
          this.notify(`Refresh failed: ${describe(error).message}`, 'error');
        } else {
          this.showError(error, () => void this.loadList());
        }
      }
    });
  }

  private renderList(): void {
    if (this.current) {
      return;
    }
    this.shown = 'list';
    const searching = this.searchInput.value.trim() !== '';
    if (!this.models.length) {
      this.body.replaceChildren(
        h(
          'div',
          { class: 'nbops-empty' },
          searching
            ? h('p', {}, `No model matches "${this.searchInput.value.trim()}".`)
            : h(
                'p',
                {},
                'No registered models yet. Register one from a notebook with ',
                h('code', {}, 'nbops.log_model(model, name="my-model")'),
                '.'
              )
        )
      );
      this.markPainted();
      return;
    }
    const order = this.orderSelect.value as ModelOrder;
    const items = sortModels(this.models, order).map(m => this.modelItem(m));
    const list = h('ul', { class: 'nbops-model-list', 'aria-label': 'Registered models' }, ...items);
    list.addEventListener('keydown', e => this.arrowKeys(e, list));
    const more = this.nextToken
      ? button('Load more', () => void this.loadList('more'), {
          class: 'jp-Button nbops-button nbops-more'
        })
      : null;
    this.body.replaceChildren(list, more ?? '');
    this.markPainted();
  }

  /** Up/Down move between the models, Home/End to the first/last. */
  private arrowKeys(e: KeyboardEvent, list: HTMLElement): void {
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

  private modelItem(m: ModelSummary): HTMLElement {
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
    const open = (): void => void this.loadModel(m.name);
    li.addEventListener('click', open);
    li.addEventListener('keydown', e => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        open();
      }
    });
    return li;
  }

  private markPainted(): void {
    if (this.painted) {
      return;
    }
    this.painted = true;
    requestAnimationFrame(() => {
      const ms = performance.now() - this.openedAt;
      performance.mark('nbops:first-paint');
      try {
        performance.measure('nbops:first-paint', 'nbops:panel-open', 'nbops:first-paint');
      } catch {
        // the open mark is missing when the panel painted before being shown
      }
      this.node.dataset.firstPaintMs = ms.toFixed(1);
    });
  }

  // -- model view ------------------------------------------------------------------------
  /** A model's view; `keep` (a refresh, after an action) keeps the scroll position. */
  loadModel(modelName: string, mode: 'reset' | 'keep' = 'reset'): Promise<void> {
    return this.exclusive(async () => {
      const same = mode === 'keep' && this.shown === 'model' && this.current === modelName;
      this.current = modelName;
      if (!same) {
        this.showLoading(`Loading ${modelName}…`);
      }
      const scroll = this.body.scrollTop;
      try {
        const detail = await requestAPI<ModelDetail>(`models/${encodeURIComponent(modelName)}`);
        if (this.current !== modelName) {
          return;
        }
        this.renderModel(detail);
        if (same) {
          this.body.scrollTop = scroll;
        }
      } catch (error) {
        if (same) {
          this.notify(`Refresh failed: ${describe(error).message}`, 'error');
        } else {
          this.showError(error, () => void this.loadModel(modelName));
        }
      }
    });
  }

  private renderModel(d: ModelDetail): void {
    this.shown = 'model';
    const versions = sortVersions(d.versions);
    const lineageBox = h('div', { class: 'nbops-lineage' }, h('p', { class: 'nbops-muted' }, 'Loading lineage…'));
    const back = button('Models', () => void this.loadList(), {
      class: 'jp-Button nbops-button nbops-back',
      title: 'Back to the model list',
      'aria-label': 'Back to the model list'
    });
    back.prepend(h('span', { class: 'nbops-back-arrow', 'aria-hidden': 'true' }, '‹'));
    const head = h(
      'div',
      { class: 'nbops-model-head' },
      back,
      name(d.name, 'nbops-model-title', 'h3'),
      d.description ? h('p', { class: 'nbops-description' }, d.description) : null,
      h(
        'ul',
        { class: 'nbops-aliases', 'aria-label': 'Aliases' },
        ...aliasOrder(d.aliases).map(alias => this.aliasRow(d, alias))
      )
    );
    this.lineage?.dispose();
    this.lineage = null;
    this.body.replaceChildren(
      head,
      this.monitoringSection(versions),
      h('h4', { class: 'nbops-section' }, 'Versions'),
      this.versionCards(d, versions),
      h('h4', { class: 'nbops-section' }, 'Lineage'),
      lineageBox,
      h('h4', { class: 'nbops-section' }, 'Alias history'),
      this.historyList(d)
    );
    void this.loadLineage(d, versions, lineageBox);
  }

  private aliasRow(d: ModelDetail, alias: string): HTMLElement {
    const version = d.aliases[alias];
    const target = (d.rollback_targets ?? {})[alias];
    return h(
      'li',
      { class: 'nbops-alias-row', 'data-alias': alias },
      badge({
        text: `${alias} → v${version}`,
        title: `Alias "${alias}" on version ${version}`,
        className: 'nbops-badge nbops-badge-alias'
      }),
      target
        ? button(`Roll back to v${target}`, () => void this.rollback(d, alias, target), {
            class: 'jp-Button nbops-button nbops-rollback',
            title: `Move "${alias}" from v${version} back to v${target}`
          })
        : null
    );
  }

  private monitoringSection(versions: VersionInfo[]): HTMLElement {
    const monitored = versions.filter(v => v.status).map(v => v.status as MonitorStatus);
    const section = h('div', { class: 'nbops-monitoring' }, h('h4', { class: 'nbops-section' }, 'Monitoring'));
    if (!monitored.length) {
      section.append(h('p', { class: 'nbops-muted' }, 'No monitoring status yet: run the monitor notebook.'));
      return section;
    }
    section.append(
      h(
        'ul',
        { class: 'nbops-plain-list' },
        ...monitored.map(s => {
          const b = statusBadge(s);
          return h(
            'li',
            { class: 'nbops-monitor-row', 'data-version': s.version },
            h('span', { class: 'nbops-version-name' }, `v${s.version}`),
            b ? badge(b) : null,
            h('span', { class: 'nbops-muted nbops-when' }, formatTime(s.checked_at)),
            s.report_run_id
              ? button(`report run ${s.report_run_id.slice(0, 8)}`, () => void this.open(s.report_run_id as string), {
                  class: 'jp-Button nbops-button nbops-report-link',
                  title: `Open the notebook of monitoring run ${s.report_run_id}`
                })
              : null
          );
        })
      )
    );
    return section;
  }

  /** One card per version: name, aliases and status, created, metrics, then the actions. */
  private versionCards(d: ModelDetail, versions: VersionInfo[]): HTMLElement {
    const cards = versions.map(v => {
      const status = statusBadge(v.status);
      const gate = gateBadge(v.tags);
      const gateRun = v.tags[GATE_RUN_TAG];
      return h(
        'li',
        { class: 'nbops-version-card', 'data-version': v.version },
        h(
          'div',
          { class: 'nbops-card-head' },
          h('span', { class: 'nbops-version-name' }, `v${v.version}`),
          ...v.aliases.map(a => badge({ text: a, title: `alias ${a}`, className: 'nbops-badge nbops-badge-alias' })),
          status ? badge(status) : null,
          gate ? badge(gate) : null
        ),
        h('div', { class: 'nbops-created nbops-muted', title: 'created' }, formatTime(v.created_at)),
        h('div', { class: 'nbops-metrics nbops-ellipsis', title: metricSummary(v.run_metrics, 100) }, metricSummary(v.run_metrics)),
        h(
          'div',
          { class: 'nbops-card-actions' },
          v.source_run_id
            ? button('Notebook', () => void this.open(v.source_run_id as string), {
                class: 'jp-Button nbops-button nbops-open-notebook',
                title: `Open the notebook of run ${v.source_run_id} (read-only)`
              })
            : h('span', { class: 'nbops-muted' }, 'no run'),
          gate && gateRun
            ? button('gate report', () => void this.openGate(gateRun), {
                class: 'jp-Button nbops-button nbops-gate-report',
                title: `Open the report of gate run ${gateRun}`
              })
            : null,
          button('Promote', () => void this.promote(d, v.version), {
            class: 'jp-Button nbops-button nbops-mod-primary nbops-promote',
            title: `Point an alias at v${v.version}`
          })
        )
      );
    });
    return h('ul', { class: 'nbops-versions', 'aria-label': 'Versions' }, ...cards);
  }

  private historyList(d: ModelDetail): HTMLElement {
    if (!d.history.length) {
      return h('p', { class: 'nbops-muted nbops-history' }, 'No alias moves recorded yet.');
    }
    return h(
      'ul',
      { class: 'nbops-history nbops-plain-list' },
      ...d.history.map(e =>
        h(
          'li',
          { class: 'nbops-history-entry', 'data-action': e.action },
          h('span', { class: 'nbops-when nbops-muted' }, formatTime(e.when)),
          ' ',
          auditLine(e)
        )
      )
    );
  }

  private async loadLineage(d: ModelDetail, versions: VersionInfo[], box: HTMLElement): Promise<void> {
    const alias = aliasOrder(d.aliases)[0];
    const ref = alias ? `${d.name}@${alias}` : versions.length ? `${d.name}/${versions[0].version}` : '';
    if (!ref) {
      box.replaceChildren(h('p', { class: 'nbops-muted' }, 'No versions, so no lineage.'));
      return;
    }
    try {
      const graph = await requestAPI<LineageGraph>('lineage' + query({ ref, direction: 'both', depth: 3 }));
      if (!graph.nodes.length) {
        box.replaceChildren(h('p', { class: 'nbops-muted' }, `No lineage recorded for ${ref}.`));
        return;
      }
      this.lineage?.dispose();
      this.lineage = new LineageView(graph, ref);
      box.replaceChildren(this.lineage.node);
    } catch (error) {
      box.replaceChildren(h('p', { class: 'nbops-error-message' }, `Lineage unavailable: ${describe(error).message}`));
    }
  }

  // -- actions ---------------------------------------------------------------------------
  private async promote(d: ModelDetail, version: string): Promise<void> {
    const result = await showDialog<PromoteRequest>({
      title: `Promote ${d.name} v${version}`,
      body: new PromoteBody(version, d.aliases),
      focusNodeSelector: '.nbops-input-alias',
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    const body: PromoteRequest = { ...result.value, expected_current: currentOf(d.aliases, result.value.alias) };
    try {
      const change = await requestAPI<AliasChange>(`models/${encodeURIComponent(d.name)}/aliases`, {
        method: 'POST',
        body: JSON.stringify(body)
      });
      await this.loadModel(d.name, 'keep');
      this.notify(`${change.alias} → v${change.version} (audited)`, 'ok');
    } catch (error) {
      await this.loadModel(d.name, 'keep');
      this.notify(describe(error).message, 'error');
    }
  }

  private async rollback(d: ModelDetail, alias: string, target: string): Promise<void> {
    const result = await showDialog<RollbackRequest>({
      title: `Roll back "${alias}" to v${target}?`,
      body: new RollbackBody(`"${alias}" of ${d.name} moves from v${d.aliases[alias]} back to v${target}.`),
      focusNodeSelector: '.nbops-input-reason',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: `Roll back to v${target}` })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      const change = await requestAPI<AliasChange>(
        `models/${encodeURIComponent(d.name)}/aliases/${encodeURIComponent(alias)}/rollback`,
        { method: 'POST', body: JSON.stringify(result.value ?? {}) }
      );
      await this.loadModel(d.name, 'keep');
      this.notify(`${change.alias} rolled back to v${change.version} (audited)`, 'ok');
    } catch (error) {
      await this.loadModel(d.name, 'keep');
      this.notify(describe(error).message, 'error');
    }
  }

  private async openGate(runId: string): Promise<void> {
    try {
      await openGateReport(this.app, runId);
    } catch (error) {
      this.notify(`Cannot open the gate report of run ${runId}: ${describe(error).message}`, 'error');
    }
  }

  private async open(runId: string): Promise<void> {
    try {
      await openSnapshot(this.app, runId);
    } catch (error) {
      this.notify(`Cannot open the notebook of run ${runId}: ${describe(error).message}`, 'error');
    }
  }
}
