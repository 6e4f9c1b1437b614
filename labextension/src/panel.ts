/** The "Models" sidebar: model list → model view (versions, lineage, status, audit, actions).
 *
 * This module holds the panel's state and what happens when: loading a view, refreshing it in
 * place, running an action. What it calls and how views look live next to it: api.ts (the
 * REST calls), poll.ts (one request at a time, timed refresh), render/ (the list and the model
 * view), dialogs.ts (promote and rollback), lineage.ts (the graph), snapshot.ts (run notebooks
 * and gate reports).
 *
 * Built from JupyterLab's parts (Toolbar, ToolbarButton, styled inputs and selects, Dialog)
 * and themed by `--jp-*` variables only; laid out for the default ~250 px sidebar first. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { refreshIcon, Styling, Toolbar, ToolbarButton } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import * as api from './api';
import { ModelDetail, ModelSummary, VersionInfo } from './contract';
import { askPromote, askRollback } from './dialogs';
import { h } from './dom';
import { ModelOrder, sortVersions } from './format';
import { LineageView } from './lineage';
import { Poller } from './poll';
import { errorBox, loading, notify } from './render/common';
import { modelList } from './render/list';
import { historyList, lineageRef, ModelActions, modelHead, monitoringSection, versionCards } from './render/model';
import { openGateReport, openSnapshot } from './snapshot';

export class RegistryPanel extends Panel {
  private readonly body: HTMLElement;
  private readonly searchInput: HTMLInputElement;
  private readonly orderSelect: HTMLSelectElement;
  private readonly poller: Poller;
  private models: ModelSummary[] = [];
  private nextToken: string | null = null;
  private current: string | null = null;
  private lineage: LineageView | null = null;
  private searchTimer = 0;
  private openedAt = 0;
  private painted = false;
  /** What the body shows now: a refresh keeps a list or a model view in place. */
  private shown: 'loading' | 'list' | 'model' | 'error' = 'loading';

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
    this.poller = new Poller(on => {
      this.node.classList.toggle('nbops-mod-busy', on);
      if (on) {
        this.body.setAttribute('aria-busy', 'true');
      } else {
        this.body.removeAttribute('aria-busy');
      }
    });
  }

  /** Mark the opening of the panel (first paint is measured from here). */
  protected onAfterShow(): void {
    if (!this.painted) {
      this.openedAt = performance.now();
      performance.mark('nbops:panel-open');
    }
    void this.refresh();
    this.poller.start(() => void this.refresh(), () => this.isVisible);
  }

  protected onAfterHide(): void {
    this.poller.stop();
  }

  dispose(): void {
    this.poller.stop();
    window.clearTimeout(this.searchTimer);
    this.lineage?.dispose();
    super.dispose();
  }

  /**
   * Re-read what is shown, keeping the pages loaded with "Load more" and the scroll position.
   * A refresh asked for while a request is pending joins it: refreshes never overlap.
   */
  refresh(): Promise<void> {
    return (
      this.poller.pending ?? (this.current ? this.loadModel(this.current, 'keep') : this.loadList('keep'))
    );
  }

  private showLoading(text: string): void {
    this.shown = 'loading';
    this.body.replaceChildren(loading(text));
  }

  private showError(error: unknown, retry: () => void): void {
    const { message, status } = api.describe(error);
    const shown = errorBox(message, status, retry);
    this.shown = 'error';
    this.body.replaceChildren(shown.box);
    shown.retry.focus();
  }

  private notify(text: string, kind: 'ok' | 'error'): void {
    notify(this.body, text, kind);
  }

  // -- list ------------------------------------------------------------------------------
  /**
   * The model list. `reset`: the first page, from the top (a new search, back from a model);
   * `keep`: every page loaded so far, at the same scroll position; `more`: the next page.
   */
  loadList(mode: 'reset' | 'keep' | 'more' = 'reset'): Promise<void> {
    return this.poller.exclusive(async () => {
      const keep = mode === 'keep' && this.shown === 'list';
      this.current = null;
      if (mode === 'reset' || (mode === 'keep' && !keep)) {
        this.showLoading('Loading models…');
      }
      const scroll = this.body.scrollTop;
      const size = keep ? Math.max(this.models.length, api.PAGE_SIZE) : api.PAGE_SIZE;
      const append = mode === 'more';
      try {
        const page = await api.listModels(this.searchInput.value.trim(), size, append ? this.nextToken : undefined);
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
          this.notify(`Refresh failed: ${api.describe(error).message}`, 'error');
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
    const order = this.orderSelect.value as ModelOrder;
    this.body.replaceChildren(
      ...modelList(this.models, order, this.searchInput.value.trim(), this.nextToken !== null, {
        open: model => void this.loadModel(model),
        more: () => void this.loadList('more')
      })
    );
    this.markPainted();
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
    return this.poller.exclusive(async () => {
      const same = mode === 'keep' && this.shown === 'model' && this.current === modelName;
      this.current = modelName;
      if (!same) {
        this.showLoading(`Loading ${modelName}…`);
      }
      const scroll = this.body.scrollTop;
      try {
        const detail = await api.getModel(modelName);
        if (this.current !== modelName) {
          return;
        }
        this.renderModel(detail);
        if (same) {
          this.body.scrollTop = scroll;
        }
      } catch (error) {
        if (same) {
          this.notify(`Refresh failed: ${api.describe(error).message}`, 'error');
        } else {
          this.showError(error, () => void this.loadModel(modelName));
        }
      }
    });
  }

  private renderModel(d: ModelDetail): void {
    this.shown = 'model';
    const versions = sortVersions(d.versions);
    const actions: ModelActions = {
      back: () => void this.loadList(),
      rollback: (alias, target) => void this.rollback(d, alias, target),
      promote: version => void this.promote(d, version),
      openRun: runId => void this.open(runId),
      openGate: runId => void this.openGate(runId)
    };
    const lineageBox = h('div', { class: 'nbops-lineage' }, h('p', { class: 'nbops-muted' }, 'Loading lineage…'));
    this.lineage?.dispose();
    this.lineage = null;
    this.body.replaceChildren(
      modelHead(d, actions),
      monitoringSection(versions, actions),
      h('h4', { class: 'nbops-section' }, 'Versions'),
      versionCards(versions, actions),
      h('h4', { class: 'nbops-section' }, 'Lineage'),
      lineageBox,
      h('h4', { class: 'nbops-section' }, 'Alias history'),
      historyList(d)
    );
    void this.loadLineage(d, versions, lineageBox);
  }

  private async loadLineage(d: ModelDetail, versions: VersionInfo[], box: HTMLElement): Promise<void> {
    const ref = lineageRef(d, versions);
    if (!ref) {
      box.replaceChildren(h('p', { class: 'nbops-muted' }, 'No versions, so no lineage.'));
      return;
    }
    try {
      const graph = await api.getLineage(ref);
      if (!graph.nodes.length) {
        box.replaceChildren(h('p', { class: 'nbops-muted' }, `No lineage recorded for ${ref}.`));
        return;
      }
      this.lineage?.dispose();
      this.lineage = new LineageView(graph, ref);
      box.replaceChildren(this.lineage.node);
    } catch (error) {
      box.replaceChildren(h('p', { class: 'nbops-error-message' }, `Lineage unavailable: ${api.describe(error).message}`));
    }
  }

  // -- actions ---------------------------------------------------------------------------
  private async promote(d: ModelDetail, version: string): Promise<void> {
    const body = await askPromote(d, version);
    if (body) {
      await this.act(d.name, () => api.promote(d.name, body), c => `${c.alias} → v${c.version} (audited)`);
    }
  }

  private async rollback(d: ModelDetail, alias: string, target: string): Promise<void> {
    const body = await askRollback(d, alias, target);
    if (body) {
      await this.act(
        d.name,
        () => api.rollback(d.name, alias, body),
        c => `${c.alias} rolled back to v${c.version} (audited)`
      );
    }
  }

  /** Run an alias move, reload the model in place, then say what happened (or why not). */
  private async act<T>(model: string, move: () => Promise<T>, done: (result: T) => string): Promise<void> {
    try {
      const result = await move();
      await this.loadModel(model, 'keep');
      this.notify(done(result), 'ok');
    } catch (error) {
      await this.loadModel(model, 'keep');
      this.notify(api.describe(error).message, 'error');
    }
  }

  private async openGate(runId: string): Promise<void> {
    try {
      await openGateReport(this.app, runId);
    } catch (error) {
      this.notify(`Cannot open the gate report of run ${runId}: ${api.describe(error).message}`, 'error');
    }
  }

  private async open(runId: string): Promise<void> {
    try {
      await openSnapshot(this.app, runId);
    } catch (error) {
      this.notify(`Cannot open the notebook of run ${runId}: ${api.describe(error).message}`, 'error');
    }
  }
}
