import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ModelSummary, VersionInfo } from '../src/contract';
import {
  aliasBadges,
  aliasProblem,
  aliasOrder,
  auditLine,
  currentOf,
  errorMessage,
  formatMetric,
  formatTime,
  gateBadge,
  gateReportPath,
  metricSummary,
  paramsText,
  parseParams,
  readOnlyNotebook,
  reasonProblem,
  snapshotPath,
  sortModels,
  sortVersions,
  statusBadge
} from '../src/format';
import { GUTTER, labelRoom, layout, stackedLayout } from '../src/layout';

function model(name: string, status: string | null, updated: string | null = null): ModelSummary {
  return {
    name,
    description: '',
    aliases: {},
    latest_version: '1',
    tags: {},
    status: status ? { status, version: '1', report_run_id: null, checked_at: null } : null,
    updated_at: updated
  };
}

test('models sort by status worst first, unmonitored last, then by name', () => {
  const sorted = sortModels(
    [model('b', 'ok'), model('a', null), model('c', 'drift'), model('d', 'error'), model('e', 'ok')],
    'status'
  );
  assert.deepEqual(sorted.map(m => m.name), ['d', 'c', 'b', 'e', 'a']);
});

test('models sort by name and by update time without mutating the input', () => {
  const input = [model('b', null, '2026-01-02T00:00:00+00:00'), model('a', null, '2026-01-01T00:00:00+00:00')];
  assert.deepEqual(sortModels(input, 'name').map(m => m.name), ['a', 'b']);
  assert.deepEqual(sortModels(input, 'updated').map(m => m.name), ['b', 'a']);
  assert.equal(input[0].name, 'b');
});

test('versions sort numerically, newest first', () => {
  const v = (version: string): VersionInfo => ({
    version, created_at: null, source_run_id: null, run_metrics: {}, tags: {}, aliases: [],
    status: null, description: '', source: ''
  });
  assert.deepEqual(sortVersions([v('2'), v('10'), v('9')]).map(x => x.version), ['10', '9', '2']);
});

test('alias badges put promotion aliases first and name the version', () => {
  const badges = aliasBadges({ zeta: '1', staging: '4', champion: '3' });
  assert.deepEqual(badges.map(b => b.text), ['champion → v3', 'staging → v4', 'zeta → v1']);
  assert.deepEqual(aliasOrder({ b: '1', a: '2', Prod: '3' }), ['Prod', 'a', 'b']);
});

test('status badge: known values get their class, unknown ones are flagged', () => {
  assert.equal(statusBadge(null), null);
  const drift = statusBadge({ status: 'drift', version: '2', report_run_id: 'r', checked_at: '2026-11-22T10:00:00+00:00' });
  assert.equal(drift?.text, 'drift');
  assert.match(drift?.className ?? '', /nbops-status-drift/);
  assert.match(drift?.title ?? '', /v2: drift, checked 2026-11-22 10:00 UTC/);
  const odd = statusBadge({ status: 'weird', version: '1', report_run_id: null, checked_at: null });
  assert.match(odd?.className ?? '', /nbops-status-unknown/);
  assert.equal(odd?.text, 'unknown (weird)');
});

test('error messages prefer the server message and explain 503 and 403', () => {
  assert.equal(errorMessage(404, { message: "Model 'x' does not exist" }), "Model 'x' does not exist");
  assert.match(errorMessage(503, {}), /tracking store cannot be reached/);
  assert.equal(errorMessage(503, { message: 'store down' }), 'store down');
  assert.match(errorMessage(403, '<html>Forbidden</html>'), /reload JupyterLab/);
  assert.equal(errorMessage(500, '<html>oops</html>'), 'Request failed with HTTP 500.');
  assert.equal(errorMessage(400, 'plain text reason'), 'plain text reason');
});

test('formatting of times, metrics and audit lines', () => {
  assert.equal(formatTime(null), '—');
  assert.equal(formatTime('not a time'), 'not a time');
  assert.equal(formatMetric(0.912345), '0.9123');
  assert.equal(formatMetric(12), '12');
  assert.equal(metricSummary({ b: 1, a: 0.5, c: 2, d: 3 }, 2), 'a=0.5, b=1, +2 more');
  assert.equal(metricSummary({}), '—');
  assert.equal(
    auditLine({ alias: 'champion', from_version: null, to_version: '2', when: '', who: 'ana', reason: 'better', action: 'set' }),
    'champion: ∅ → v2 by ana (set) — better'
  );
  assert.equal(currentOf({ champion: '3' }, 'champion'), '3');
  assert.equal(currentOf({ champion: '3' }, 'toString'), '');
});

test('the wide lineage draws the columns and rows the server placed', () => {
  const graph = {
    nodes: [
      { id: 'd', kind: 'dataset', label: 'data', layer: 0, order: 0 },
      { id: 'r', kind: 'run', label: 'run', layer: 1, order: 0 },
      { id: 'm', kind: 'model_version', label: 'm/1', layer: 2, order: 1 },
      { id: 'x', kind: 'run', label: 'x', layer: 2, order: 0 }
    ],
    edges: [
      { source: 'd', target: 'r' },
      { source: 'r', target: 'm' },
      { source: 'm', target: 'x' },
      { source: 'x', target: 'm' }
    ]
  };
  const l = layout(graph);
  const at = new Map(l.nodes.map(n => [n.id, n]));
  assert.equal(at.get('d')?.x, 0);
  assert.ok((at.get('r')?.x ?? 0) > 0 && at.get('m')?.x === at.get('x')?.x);
  assert.ok((at.get('x')?.y ?? 1) < (at.get('m')?.y ?? 0), 'order 0 is drawn above order 1');
  assert.equal(l.edges.length, 4);
  assert.ok(l.width > 0 && l.height > 0);
});

test('the promote dialog names what is missing', () => {
  assert.equal(aliasProblem(''), 'Give the alias to move, e.g. champion.');
  assert.match(aliasProblem('9lives'), /starts with a letter/);
  assert.match(aliasProblem('has space'), /letters, digits/);
  assert.equal(aliasProblem('champion'), '');
  assert.equal(aliasProblem('prod_eu-2'), '');
  assert.equal(reasonProblem(''), 'Give a reason: it is recorded in the audit trail.');
  assert.equal(reasonProblem('better recall'), '');
});

test('snapshots are saved read-only under the full run id', () => {
  const snap = {
    run_id: 'a'.repeat(32),
    path: 'notebook/train.ipynb',
    notebook: { cells: [{ cell_type: 'code', metadata: { tags: ['x'] }, source: '%time 1' }], metadata: {} }
  };
  assert.equal(snapshotPath(snap), `nbops-snapshots/${'a'.repeat(32)}-train.ipynb`);
  const nb = readOnlyNotebook(snap);
  assert.deepEqual(nb.cells[0], {
    cell_type: 'code',
    metadata: { tags: ['x'], editable: false, deletable: false },
    source: '%time 1'
  });
  assert.deepEqual(snap.notebook.cells[0], { cell_type: 'code', metadata: { tags: ['x'] }, source: '%time 1' });
});

test('the stacked lineage fits the width: one full-width row per node, sources first', () => {
  const graph = {
    nodes: [
      { id: 'm', kind: 'model_version', label: 'churn/2', layer: 2, order: 0 },
      { id: 'r', kind: 'run', label: 'train', layer: 1, order: 0 },
      { id: 'd', kind: 'dataset', label: 'customers@' + 'x'.repeat(60), layer: 0, order: 0 }
    ],
    edges: [
      { source: 'd', target: 'r', relation: 'input' },
      { source: 'r', target: 'm', relation: 'produced' }
    ]
  };
  const l = stackedLayout(graph, 220);
  assert.equal(l.width, 220);
  assert.deepEqual(l.nodes.map(n => n.id), ['d', 'r', 'm']);
  assert.ok(l.nodes.every(n => n.x === GUTTER));
  assert.equal(new Set(l.nodes.map(n => n.y)).size, 3);
  assert.equal(l.edges.length, 2);
  assert.ok(layout(graph).width > 220, 'the layered layout would not fit');
  assert.equal(labelRoom(220 - GUTTER), 27);
});

test('pipeline params round-trip through KEY=VALUE lines', () => {
  const text = paramsText({ n: 4, name: 'eu', flags: [1, 2] });
  assert.equal(text, 'n=4\nname=eu\nflags=[1,2]');
  assert.deepEqual(parseParams(text + '\n\n'), { n: 4, name: 'eu', flags: [1, 2] });
  assert.throws(() => parseParams('n 4'), /Line 1 "n 4": write KEY=VALUE/);
  assert.throws(() => parseParams('ok=1\n2x=3'), /Line 2/);
});

test('a gated version shows its decision, coloured like the status chips', () => {
  const run = 'a'.repeat(32);
  const promoted = gateBadge({ 'nbops.gate.decision': 'promoted', 'nbops.gate.run': run });
  assert.equal(promoted?.text, 'gate: promoted');
  assert.match(promoted?.className ?? '', /nbops-status-ok/);
  assert.match(promoted?.title ?? '', new RegExp(run));
  assert.match(gateBadge({ 'nbops.gate.decision': 'rejected' })?.className ?? '', /nbops-status-error/);
  assert.match(gateBadge({ 'nbops.gate.decision': 'dry-run' })?.className ?? '', /nbops-status-warning/);
  assert.match(gateBadge({ 'nbops.gate.decision': 'later' })?.className ?? '', /nbops-status-unknown/);
  assert.equal(gateBadge({ 'nbops.monitor.status': 'ok' }), null);
  assert.equal(gateReportPath(run), `nbops-snapshots/${run}-gate-report.html`);
});
