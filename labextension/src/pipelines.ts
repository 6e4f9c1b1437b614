/** The "Pipelines" sidebar: the pipeline specs of the project, their steps, schedules and
 * recent runs (each step's notebook opens read-only), and "Run now". */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { refreshIcon, Toolbar, ToolbarButton } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import { PipelineInfo, PipelineList, PipelineRun, RunStarted, StepRun } from './contract';
import { button, h } from './dom';
import { formatTime, paramsText, parseParams } from './format';
import { ApiError, requestAPI } from './request';
import { openSnapshot } from './snapshot';

const IDLE_MS = 30_000;
const BUSY_MS = 3_000;

/** The status chip class of a pipeline or step status. */
export function runStatusClass(status: string): string {
  const kind =
    status === 'succeeded' || status === 'cached'
      ? 'ok'
      : status === 'running' || status === 'pending'
        ? 'warning'
        : 'error';
  return `nbops-badge nbops-status nbops-status-${kind}`;
}

function message(error: unknown): string {
  return error instanceof ApiError ? error.message : String(error);
}

/** The body of "Run with parameters": one KEY=VALUE per line, checked as you type. */
class ParamsBody extends Widget implements Dialog.IBodyWidget<Record<string, unknown>> {
  private readonly input: HTMLTextAreaElement;
  private readonly hint: HTMLElement;

  constructor(p: PipelineInfo) {
    super();
    this.addClass('nbops-dialog');
    this.input = h('textarea', {
      class: 'jp-mod-styled nbops-params',
      rows: String(Math.max(3, Object.keys(p.params).length + 1)),
      'aria-label': 'Pipeline params, one KEY=VALUE per line'
    });
    this.input.value = paramsText(p.params);
    this.hint = h('div', { class: 'nbops-field-hint' }, 'One KEY=VALUE per line; values are JSON or text.');
    this.input.addEventListener('input', () => {
      this.check();
      // the Dialog checked validity before this listener ran: let it look again
      this.node.dispatchEvent(new Event('input', { bubbles: true }));
    });
    this.node.append(
      h('p', {}, `Run ${p.path} with these params (the spec's defaults shown).`),
      h('label', { class: 'nbops-field' }, h('span', { class: 'nbops-field-label' }, 'Params'), this.input, this.hint)
    );
  }

  private check(): void {
    try {
      parseParams(this.input.value);
      this.hint.textContent = 'One KEY=VALUE per line; values are JSON or text.';
      this.hint.classList.remove('nbops-mod-error', 'jp-mod-error');
    } catch (error) {
      this.hint.textContent = (error as Error).message;
      this.hint.classList.add('nbops-mod-error', 'jp-mod-error'); // jp-mod-error: Dialog refuses
    }
  }

  getValue(): Record<string, unknown> {
    return parseParams(this.input.value);
  }
}

export class PipelinesPanel extends Panel {
  private readonly body: HTMLElement;
  private timer = 0;
  private inflight: Promise<void> | null = null;
  private started = 0;
  private pipelines: PipelineInfo[] = [];

  constructor(private readonly app: JupyterFrontEnd) {
    super();
    this.id = 'nbops-pipelines';
    this.addClass('nbops-panel');
    this.title.caption = 'Pipelines (notebook pipelines and their runs)';
    const toolbar = new Toolbar();
    toolbar.addClass('nbops-toolbar');
    toolbar.addItem('title', new Widget({ node: h('h2', { class: 'nbops-title' }, 'Pipelines') }));
    toolbar.addItem('spacer', Toolbar.createSpacerItem());
    toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        className: 'nbops-refresh',
        tooltip: 'Refresh the pipelines',
        onClick: () => void this.refresh()
      })
    );
    this.body = h('div', { class: 'nbops-body', 'aria-live': 'polite' });
    this.addWidget(toolbar);
    this.addWidget(new Widget({ node: this.body }));
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  protected onAfterHide(): void {
    window.clearTimeout(this.timer);
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    super.dispose();
  }

  /** Re-read the pipelines (never two requests at once); polls faster while a run is going. */
  refresh(): Promise<void> {
    if (this.inflight) {
      return this.inflight;
    }
    window.clearTimeout(this.timer);
    if (!this.pipelines.length) {
      this.body.replaceChildren(
        h('div', { class: 'nbops-loading', role: 'status' }, h('span', { class: 'nbops-spinner' }), 'Loading pipelines…')
      );
    }
    const scroll = this.body.scrollTop;
    this.node.classList.add('nbops-mod-busy');
    this.inflight = requestAPI<PipelineList>('pipelines')
      .then(list => {
        this.pipelines = list.pipelines;
        this.render();
        this.body.scrollTop = scroll;
      })
      .catch(error => {
        this.pipelines = [];
        this.body.replaceChildren(
          h(
            'div',
            { class: 'nbops-error', role: 'alert', 'data-status': String(error instanceof ApiError ? error.status : 0) },
            h('strong', {}, 'Cannot list the pipelines'),
            h('p', { class: 'nbops-error-message' }, message(error)),
            button('Retry', () => void this.refresh(), { class: 'nbops-mod-primary nbops-retry' })
          )
        );
      })
      .finally(() => {
        this.inflight = null;
        this.node.classList.remove('nbops-mod-busy');
        if (this.isVisible) {
          const busy =
            Date.now() - this.started < 15_000 ||
            this.pipelines.some(p => p.runs.some(r => r.status === 'running'));
          this.timer = window.setTimeout(() => void this.refresh(), busy ? BUSY_MS : IDLE_MS);
        }
      });
    return this.inflight;
  }

  private render(): void {
    if (!this.pipelines.length) {
      this.body.replaceChildren(
        h(
          'div',
          { class: 'nbops-empty' },
          h('p', {}, 'No pipeline found under the Jupyter root. A pipeline is a ', h('code', {}, 'pipeline.yaml'), ' listing notebook steps; see the pipelines page of the nbops docs.')
        )
      );
      return;
    }
    this.body.replaceChildren(
      h('ul', { class: 'nbops-plain-list nbops-pipelines' }, ...this.pipelines.map(p => this.card(p)))
    );
  }

  private card(p: PipelineInfo): HTMLElement {
    const run = button('Run now', () => void this.runNow(p), {
      class: 'nbops-mod-primary nbops-run-now',
      title: `Run ${p.path} with its default params (nbops run)`
    });
    const withParams = button('Run with params…', () => void this.runWithParams(p), {
      class: 'nbops-run-params',
      title: `Run ${p.path} with other params`
    });
    return h(
      'li',
      { class: 'nbops-pipeline nbops-version-card', 'data-path': p.path },
      h('div', { class: 'nbops-card-head' }, h('span', { class: 'nbops-ellipsis nbops-pipeline-name', title: p.name }, p.name)),
      h('div', { class: 'nbops-ellipsis nbops-muted', title: p.path }, p.path),
      p.error
        ? h('p', { class: 'nbops-error-message nbops-pipeline-error' }, p.error)
        : h('div', { class: 'nbops-pipeline-steps', title: 'steps in order' }, p.steps.map(s => s.name).join(' → ')),
      ...p.schedules.map(s =>
        h(
          'div',
          { class: 'nbops-schedule', 'data-schedule': s.name },
          h('span', { class: 'nbops-version-name' }, s.name),
          ` ${s.cron} · next ${formatTime(s.next_run)}`,
          s.last_event ? ` · last ${s.last_event} ${formatTime(s.last_run)}` : ''
        )
      ),
      p.error ? null : h('div', { class: 'nbops-card-actions' }, run, withParams),
      p.runs.length
        ? h('ul', { class: 'nbops-plain-list nbops-runs', 'aria-label': `Recent runs of ${p.name}` }, ...p.runs.map(r => this.runItem(r)))
        : h('p', { class: 'nbops-muted' }, 'No runs yet.')
    );
  }

  private runItem(r: PipelineRun): HTMLElement {
    return h(
      'li',
      { class: 'nbops-pipeline-run', 'data-run': r.run_id, 'data-status': r.status },
      h(
        'div',
        { class: 'nbops-card-head' },
        h('span', { class: runStatusClass(r.status) }, r.status),
        h('span', { class: 'nbops-muted' }, formatTime(r.start_time))
      ),
      Object.keys(r.params).length
        ? h('div', { class: 'nbops-run-params-used nbops-ellipsis', title: paramsText(r.params) }, paramsText(r.params).replace(/\n/g, ', '))
        : null,
      h('div', { class: 'nbops-step-runs' }, ...r.steps.map(s => this.stepButton(s))),
      ...r.steps.filter(s => s.failure).map(s => h('p', { class: 'nbops-error-message nbops-step-failure' }, `${s.name}: ${s.failure}`))
    );
  }

  private stepButton(s: StepRun): HTMLElement {
    return button(`${s.name}: ${s.status}`, () => void this.open(s.run_id), {
      class: 'nbops-step',
      'data-step': s.name,
      'data-status': s.status,
      title: `Open the output notebook of step ${s.name} (run ${s.run_id}), read-only`
    });
  }

  private note(text: string, kind: 'ok' | 'error'): void {
    const note = h('div', { class: `nbops-note nbops-note-${kind}`, role: 'status' }, text);
    this.body.prepend(note);
    window.setTimeout(() => note.remove(), 8000);
  }

  private async runWithParams(p: PipelineInfo): Promise<void> {
    const result = await showDialog<Record<string, unknown>>({
      title: `Run ${p.name}`,
      body: new ParamsBody(p),
      focusNodeSelector: '.nbops-params',
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })]
    });
    if (result.button.accept && result.value) {
      await this.runNow(p, result.value);
    }
  }

  private async runNow(p: PipelineInfo, params?: Record<string, unknown>): Promise<void> {
    try {
      const started = await requestAPI<RunStarted>('pipelines/run', {
        method: 'POST',
        body: JSON.stringify({ path: p.path, params })
      });
      this.started = Date.now();
      await this.refresh();
      this.note(`Started ${p.name} (process ${started.pid}; output in ${started.log}).`, 'ok');
    } catch (error) {
      this.note(`Cannot run ${p.name}: ${message(error)}`, 'error');
    }
  }

  private async open(runId: string): Promise<void> {
    try {
      await openSnapshot(this.app, runId);
    } catch (error) {
      this.note(`Cannot open the notebook of run ${runId}: ${message(error)}`, 'error');
    }
  }
}
