/** The sections of a model's view: head with aliases, monitoring, version cards, alias history. */
import { button, h } from '../dom';
import {
  aliasOrder,
  auditLine,
  formatTime,
  gateBadge,
  GATE_RUN_TAG,
  metricSummary,
  statusBadge
} from '../format';
import { ModelDetail, MonitorStatus, VersionInfo } from '../contract';
import { badge, name } from './common';

export interface ModelActions {
  back(): void;
  rollback(alias: string, target: string): void;
  promote(version: string): void;
  /** Open the notebook of a run (read-only). */
  openRun(runId: string): void;
  openGate(runId: string): void;
}

/** Back button, name, description and one row per alias (with its rollback button). */
export function modelHead(d: ModelDetail, actions: ModelActions): HTMLElement {
  const back = button('Models', () => actions.back(), {
    class: 'jp-Button nbops-button nbops-back',
    title: 'Back to the model list',
    'aria-label': 'Back to the model list'
  });
  back.prepend(h('span', { class: 'nbops-back-arrow', 'aria-hidden': 'true' }, '‹'));
  return h(
    'div',
    { class: 'nbops-model-head' },
    back,
    name(d.name, 'nbops-model-title', 'h3'),
    d.description ? h('p', { class: 'nbops-description' }, d.description) : null,
    h(
      'ul',
      { class: 'nbops-aliases', 'aria-label': 'Aliases' },
      ...aliasOrder(d.aliases).map(alias => aliasRow(d, alias, actions))
    )
  );
}

function aliasRow(d: ModelDetail, alias: string, actions: ModelActions): HTMLElement {
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
      ? button(`Roll back to v${target}`, () => actions.rollback(alias, target), {
          class: 'jp-Button nbops-button nbops-rollback',
          title: `Move "${alias}" from v${version} back to v${target}`
        })
      : null
  );
}

export function monitoringSection(versions: VersionInfo[], actions: ModelActions): HTMLElement {
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
            ? button(`report run ${s.report_run_id.slice(0, 8)}`, () => actions.openRun(s.report_run_id as string), {
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
export function versionCards(versions: VersionInfo[], actions: ModelActions): HTMLElement {
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
          ? button('Notebook', () => actions.openRun(v.source_run_id as string), {
              class: 'jp-Button nbops-button nbops-open-notebook',
              title: `Open the notebook of run ${v.source_run_id} (read-only)`
            })
          : h('span', { class: 'nbops-muted' }, 'no run'),
        gate && gateRun
          ? button('gate report', () => actions.openGate(gateRun), {
              class: 'jp-Button nbops-button nbops-gate-report',
              title: `Open the report of gate run ${gateRun}`
            })
          : null,
        button('Promote', () => actions.promote(v.version), {
          class: 'jp-Button nbops-button nbops-mod-primary nbops-promote',
          title: `Point an alias at v${v.version}`
        })
      )
    );
  });
  return h('ul', { class: 'nbops-versions', 'aria-label': 'Versions' }, ...cards);
}

export function historyList(d: ModelDetail): HTMLElement {
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

/** The ref whose lineage the model view draws: the first promotion alias, else the newest version. */
export function lineageRef(d: ModelDetail, versions: VersionInfo[]): string {
  const alias = aliasOrder(d.aliases)[0];
  return alias ? `${d.name}@${alias}` : versions.length ? `${d.name}/${versions[0].version}` : '';
}
