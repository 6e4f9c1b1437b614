/** The "Models" sidebar: model list → model view (versions, lineage, status, audit, actions). */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import {
  AliasChange,
  LineageGraph,
  ModelDetail,
  ModelPage,
  ModelSummary,
  MonitorStatus,
  NotebookSnapshot,
  PromoteRequest,
  RollbackRequest,
  VersionInfo
} from './contract';
import { button, h } from './dom';
import {
  aliasBadges,
  aliasOrder,
  auditLine,
  Badge,
  currentOf,
  formatTime,
  metricSummary,
  ModelOrder,
  sortModels,
  sortVersions,
  statusBadge
} from './format';
import { lineageSvg } from './lineage';
import { ApiError, query, requestAPI } from './request';

export const REFRESH_MS = 30_000;
export const SNAPSHOT_DIR = 'nbops-snapshots';
const PAGE_SIZE = 50;

function badge(b: Badge): HTMLElement {
  return h('span', { class: b.className, title: b.title }, b.text);
}

function describe(error: unknown): { message: string; status: number } {
  if (error instanceof ApiError) {
    return { message: error.message, status: error.status };
  }
  return { message: String(error), status: 0 };
}

/** The body of the promote dialog: alias (existing or new) + reason. */
class PromoteBody extends Widget implements Dialog.IBodyWidget<PromoteRequest> {
  private aliasInput: HTMLInputElement;
  private reasonInput: HTMLInputElement;

  constructor(
    private readonly version: string,
    aliases: string[]
  ) {
    super();
    this.addClass('nbops-dialog');
    const listId = `nbops-aliases-${Math.random().toString(36).slice(2)}`;
    this.aliasInput = h('input', {
      class: 'jp-mod-styled nbops-input-alias',
      list: listId,
      placeholder: 'alias, e.g. champion'
    });
    this.aliasInput.value = aliases[0] ?? 'champion';
    this.reasonInput = h('input', {
      class: 'jp-mod-styled nbops-input-reason',
      placeholder: 'reason (recorded in the audit trail)'
    });
    const options = h('datalist', { id: listId }, ...aliases.map(a => h('option', { value: a })));
    this.node.append(
      h('p', {}, `Point an alias at version ${version}. The move is audited.`),
      h('label', {}, 'Alias ', this.aliasInput),
      options,
      h('label', {}, 'Reason ', this.reasonInput)
    );
  }

  getValue(): PromoteRequest {
    return {
      alias: this.aliasInput.value.trim(),
      version: this.version,
      reason: this.reasonInput.value.trim() || undefined
    };
  }
}

class ReasonBody extends Widget implements Dialog.IBodyWidget<RollbackRequest> {
  private reasonInput: HTMLInputElement;

  constructor(text: string) {
    super();
    this.addClass('nbops-dialog');
    this.reasonInput = h('input', {
      class: 'jp-mod-styled nbops-input-reason',
      placeholder: 'reason (recorded in the audit trail)'
    });
    this.node.append(h('p', {}, text), h('label', {}, 'Reason ', this.reasonInput));
  }

  getValue(): RollbackRequest {
    return { reason: this.reasonInput.value.trim() || undefined };
  }
}

interface ReadOnlyCell {
  readOnly: boolean;
}

function cellsOf(widget: unknown): ReadOnlyCell[] {
  if (typeof widget !== 'object' || widget === null || !('content' in widget)) {
    return [];
  }
  const content = (widget as { content: unknown }).content;
  if (typeof content !== 'object' || content === null || !('widgets' in content)) {
    return [];
  }
  const cells = (content as { widgets: unknown }).widgets;
  return Array.isArray(cells)
    ? cells.filter((c): c is ReadOnlyCell => typeof c === 'object' && c !== null && 'readOnly' in c)
    : [];
}

export class RegistryPanel extends Widget {
  private readonly header: HTMLElement;
  private readonly body: HTMLElement;
  private readonly searchInput: HTMLInputElement;
  private readonly orderSelect: HTMLSelectElement;
  private models: ModelSummary[] = [];
  private nextToken: string | null = null;
  private current: string | null = null;
  private detail: ModelDetail | null = null;
  private timer = 0;
  private searchTimer = 0;
  private openedAt = 0;
  private painted = false;
  private loading = 0;

  constructor(private readonly app: JupyterFrontEnd) {
    super();
    this.id = 'nbops-registry';
    this.addClass('nbops-panel');
    this.title.caption = 'nbops: MLflow model registry';
    this.searchInput = h('input', {
      class: 'jp-mod-styled nbops-search',
      type: 'search',
      placeholder: 'Search models',
      'aria-label': 'Search models'
    });
    this.searchInput.addEventListener('input', () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => void this.loadList(), 250);
    });
    this.orderSelect = h(
      'select',
      { class: 'jp-mod-styled nbops-order', 'aria-label': 'Sort models' },
      h('option', { value: 'name' }, 'name'),
      h('option', { value: 'status' }, 'status'),
      h('option', { value: 'updated' }, 'updated')
    );
    this.orderSelect.addEventListener('change', () => this.renderList());
    this.header = h(
      'div',
      { class: 'nbops-header' },
      h('h2', { class: 'nbops-title' }, 'Models'),
      h(
        'div',
        { class: 'nbops-toolbar' },
        this.searchInput,
        this.orderSelect,
        button('Refresh', () => void this.refresh(), { class: 'jp-Button nbops-button nbops-refresh' })
      )
    );
    this.body = h('div', { class: 'nbops-body' });
    this.node.append(this.header, this.body);
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
      if (this.isVisible && !document.querySelector('.jp-Dialog')) {
        void this.refresh(true);
      }
    }, REFRESH_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    window.clearTimeout(this.searchTimer);
    super.dispose();
  }

  async refresh(quiet = false): Promise<void> {
    if (this.current) {
      await this.loadModel(this.current, quiet);
    } else {
      await this.loadList(quiet);
    }
  }

  private setBusy(on: boolean): void {
    this.loading += on ? 1 : -1;
    this.node.classList.toggle('nbops-busy', this.loading > 0);
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
    this.body.replaceChildren(
      h(
        'div',
        { class: `nbops-error nbops-error-${kind}`, role: 'alert', 'data-status': String(status) },
        h('strong', {}, heading),
        h('p', { class: 'nbops-error-message' }, message),
        button('Retry', retry)
      )
    );
  }

  private notify(text: string, kind: 'ok' | 'error'): void {
    const note = h('div', { class: `nbops-note nbops-note-${kind}`, role: 'status' }, text);
    this.body.prepend(note);
    window.setTimeout(() => note.remove(), 8000);
  }

  // -- list ------------------------------------------------------------------------------
  async loadList(quiet = false, append = false): Promise<void> {
    this.current = null;
    this.detail = null;
    this.setBusy(true);
    try {
      const page = await requestAPI<ModelPage>(
        'models' +
          query({
            search: this.searchInput.value.trim(),
            max_results: PAGE_SIZE,
            page_token: append ? this.nextToken : undefined
          })
      );
      if (this.current) {
        return; // the user opened a model meanwhile
      }
      this.models = append ? [...this.models, ...page.models] : page.models;
      this.nextToken = page.next_page_token;
      this.renderList();
    } catch (error) {
      if (!quiet || !this.models.length) {
        this.showError(error, () => void this.loadList());
      }
    } finally {
      this.setBusy(false);
    }
  }

  private renderList(): void {
    if (this.current) {
      return;
    }
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
    const list = h('ul', { class: 'nbops-model-list', role: 'list' }, ...items);
    const more = this.nextToken
      ? button('Load more', () => void this.loadList(false, true), {
          class: 'jp-Button nbops-button nbops-more'
        })
      : null;
    this.body.replaceChildren(list, more ?? '');
    this.markPainted();
  }

  private modelItem(m: ModelSummary): HTMLElement {
    const status = statusBadge(m.status);
    const li = h(
      'li',
      { class: 'nbops-model-item', 'data-model': m.name, tabindex: '0', role: 'button' },
      h(
        'div',
        { class: 'nbops-model-row' },
        h('span', { class: 'nbops-model-name' }, m.name),
        status ? badge(status) : null
      ),
      h(
        'div',
        { class: 'nbops-model-meta' },
        ...aliasBadges(m.aliases).map(badge),
        h(
          'span',
          { class: 'nbops-latest' },
          m.latest_version ? `latest v${m.latest_version}` : 'no versions'
        )
      )
    );
    const open = (): void => void this.loadModel(m.name);
    li.addEventListener('click', open);
    li.addEventListener('keydown', e => {
      if (e.key === 'Enter') {
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
  async loadModel(name: string, quiet = false): Promise<void> {
    this.current = name;
    this.setBusy(true);
    try {
      const detail = await requestAPI<ModelDetail>(`models/${encodeURIComponent(name)}`);
      if (this.current !== name) {
        return;
      }
      this.detail = detail;
      this.renderModel(detail);
    } catch (error) {
      if (!quiet || !this.detail) {
        this.showError(error, () => void this.loadModel(name));
      }
    } finally {
      this.setBusy(false);
    }
  }

  private renderModel(d: ModelDetail): void {
    const versions = sortVersions(d.versions);
    const lineageBox = h('div', { class: 'nbops-lineage' }, h('em', {}, 'Loading lineage…'));
    const head = h(
      'div',
      { class: 'nbops-model-head' },
      button('← Models', () => void this.loadList(), {
        class: 'jp-Button nbops-button nbops-back'
      }),
      h('h3', { class: 'nbops-model-title' }, d.name),
      d.description ? h('p', { class: 'nbops-description' }, d.description) : null,
      h(
        'div',
        { class: 'nbops-aliases' },
        ...Object.entries(d.aliases)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([alias, version]) =>
            h(
              'span',
              { class: 'nbops-alias-row', 'data-alias': alias },
              badge({
                text: `${alias} → v${version}`,
                title: `Alias "${alias}" on version ${version}`,
                className: 'nbops-badge nbops-badge-alias'
              }),
              button('Rollback', () => void this.rollback(d.name, alias), {
                class: 'jp-Button nbops-button nbops-rollback',
                title: `Move "${alias}" back to where it pointed before`
              })
            )
          )
      )
    );
    this.body.replaceChildren(
      head,
      this.monitoringSection(versions),
      h('h4', {}, 'Versions'),
      this.versionsTable(d, versions),
      h('h4', {}, 'Lineage'),
      lineageBox,
      h('h4', {}, 'Alias history'),
      this.historyList(d)
    );
    void this.loadLineage(d, versions, lineageBox);
  }

  private monitoringSection(versions: VersionInfo[]): HTMLElement {
    const monitored = versions.filter(v => v.status).map(v => v.status as MonitorStatus);
    if (!monitored.length) {
      return h(
        'div',
        { class: 'nbops-monitoring' },
        h('h4', {}, 'Monitoring'),
        h('p', { class: 'nbops-muted' }, 'No monitoring status yet: run the monitor notebook.')
      );
    }
    return h(
      'div',
      { class: 'nbops-monitoring' },
      h('h4', {}, 'Monitoring'),
      h(
        'ul',
        {},
        ...monitored.map(s => {
          const b = statusBadge(s);
          return h(
            'li',
            { class: 'nbops-monitor-row', 'data-version': s.version },
            `v${s.version} `,
            b ? badge(b) : null,
            ` ${formatTime(s.checked_at)} `,
            s.report_run_id
              ? button(`report run ${s.report_run_id.slice(0, 8)}`, () => {
                  void this.openSnapshot(s.report_run_id as string);
                }, {
                  class: 'jp-Button nbops-button nbops-report-link',
                  title: `Open the notebook of monitoring run ${s.report_run_id}`
                })
              : null
          );
        })
      )
    );
  }

  private versionsTable(d: ModelDetail, versions: VersionInfo[]): HTMLElement {
    const rows = versions.map(v => {
      const status = statusBadge(v.status);
      return h(
        'tr',
        { 'data-version': v.version },
        h(
          'td',
          {},
          `v${v.version}`,
          h('span', { class: 'nbops-created', title: 'created' }, formatTime(v.created_at))
        ),
        h(
          'td',
          {},
          ...v.aliases.map(a =>
            badge({ text: a, title: `alias ${a}`, className: 'nbops-badge nbops-badge-alias' })
          ),
          status ? badge(status) : null
        ),
        h('td', { class: 'nbops-metrics' }, metricSummary(v.run_metrics)),
        h(
          'td',
          { class: 'nbops-actions' },
          v.source_run_id
            ? button('Notebook', () => void this.openSnapshot(v.source_run_id as string), {
                class: 'jp-Button nbops-button nbops-open-notebook',
                title: `Open the executed notebook of run ${v.source_run_id}`
              })
            : h('span', { class: 'nbops-muted' }, 'no run'),
          button('Promote', () => void this.promote(d, v.version), {
            class: 'jp-Button nbops-button nbops-promote',
            title: `Set an alias on v${v.version}`
          })
        )
      );
    });
    return h(
      'table',
      { class: 'nbops-versions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Version'),
          h('th', {}, 'Aliases / status'),
          h('th', {}, 'Metrics'),
          h('th', {}, '')
        )
      ),
      h('tbody', {}, ...rows)
    );
  }

  private historyList(d: ModelDetail): HTMLElement {
    if (!d.history.length) {
      return h('p', { class: 'nbops-muted nbops-history' }, 'No alias moves recorded yet.');
    }
    return h(
      'ul',
      { class: 'nbops-history' },
      ...d.history.map(e =>
        h(
          'li',
          { class: 'nbops-history-entry', 'data-action': e.action },
          h('span', { class: 'nbops-when' }, formatTime(e.when)),
          ' ',
          auditLine(e)
        )
      )
    );
  }

  private async loadLineage(
    d: ModelDetail,
    versions: VersionInfo[],
    box: HTMLElement
  ): Promise<void> {
    const alias = aliasOrder(d.aliases)[0];
    const ref = alias ? `${d.name}@${alias}` : versions.length ? `${d.name}/${versions[0].version}` : '';
    if (!ref) {
      box.replaceChildren(h('p', { class: 'nbops-muted' }, 'No versions, so no lineage.'));
      return;
    }
    try {
      const graph = await requestAPI<LineageGraph>(
        'lineage' + query({ ref, direction: 'both', depth: 3 })
      );
      if (!graph.nodes.length) {
        box.replaceChildren(h('p', { class: 'nbops-muted' }, `No lineage recorded for ${ref}.`));
        return;
      }
      box.replaceChildren(h('div', { class: 'nbops-muted' }, ref), lineageSvg(graph));
    } catch (error) {
      box.replaceChildren(
        h('p', { class: 'nbops-error-message' }, `Lineage unavailable: ${describe(error).message}`)
      );
    }
  }

  // -- actions ---------------------------------------------------------------------------
  private async promote(d: ModelDetail, version: string): Promise<void> {
    const result = await showDialog<PromoteRequest>({
      title: `Promote ${d.name} v${version}`,
      body: new PromoteBody(version, Object.keys(d.aliases).sort()),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    const body: PromoteRequest = {
      ...result.value,
      expected_current: currentOf(d.aliases, result.value.alias)
    };
    try {
      const change = await requestAPI<AliasChange>(
        `models/${encodeURIComponent(d.name)}/aliases`,
        { method: 'POST', body: JSON.stringify(body) }
      );
      await this.loadModel(d.name);
      this.notify(`${change.alias} → v${change.version} (audited)`, 'ok');
    } catch (error) {
      await this.loadModel(d.name);
      this.notify(describe(error).message, 'error');
    }
  }

  private async rollback(name: string, alias: string): Promise<void> {
    const result = await showDialog<RollbackRequest>({
      title: `Roll back "${alias}" of ${name}?`,
      body: new ReasonBody(`"${alias}" moves back to the version it pointed at before its last move.`),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Roll back' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      const change = await requestAPI<AliasChange>(
        `models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}/rollback`,
        { method: 'POST', body: JSON.stringify(result.value ?? {}) }
      );
      await this.loadModel(name);
      this.notify(`${change.alias} rolled back to v${change.version} (audited)`, 'ok');
    } catch (error) {
      await this.loadModel(name);
      this.notify(describe(error).message, 'error');
    }
  }

  /** Save the run's executed snapshot under nbops-snapshots/ and open it read-only. */
  async openSnapshot(runId: string): Promise<void> {
    try {
      const snap = await requestAPI<NotebookSnapshot>(
        `runs/${encodeURIComponent(runId)}/notebook`
      );
      const contents = this.app.serviceManager.contents;
      try {
        await contents.get(SNAPSHOT_DIR, { content: false });
      } catch {
        await contents.save(SNAPSHOT_DIR, { type: 'directory' });
      }
      const file = snap.path.split('/').pop() ?? 'history.ipynb';
      const path = `${SNAPSHOT_DIR}/${runId.slice(0, 12)}-${file}`;
      await contents.save(path, { type: 'notebook', format: 'json', content: snap.notebook });
      const widget: unknown = await this.app.commands.execute('docmanager:open', {
        path,
        factory: 'Notebook'
      });
      if (widget instanceof Widget) {
        widget.title.caption = `Read-only snapshot of run ${runId} (${snap.path})`;
        widget.addClass('nbops-snapshot');
        window.setTimeout(() => cellsOf(widget).forEach(c => (c.readOnly = true)), 500);
      }
    } catch (error) {
      this.notify(`Cannot open the notebook of run ${runId}: ${describe(error).message}`, 'error');
    }
  }
}
