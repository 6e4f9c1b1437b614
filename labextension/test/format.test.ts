import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ModelSummary, VersionInfo } from '../src/contract';
import {
  aliasBadges,
  aliasOrder,
  auditLine,
  currentOf,
  errorMessage,
  formatMetric,
  formatTime,
  metricSummary,
  sortModels,
  sortVersions,
  statusBadge
} from '../src/format';
import { layers, layout } from '../src/layout';

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

test('lineage layers follow edges and survive cycles', () => {
  const graph = {
    nodes: [
      { id: 'd', kind: 'dataset', label: 'data' },
      { id: 'r', kind: 'run', label: 'run' },
      { id: 'm', kind: 'model_version', label: 'm/1' },
      { id: 'x', kind: 'run', label: 'x' }
    ],
    edges: [
      { source: 'd', target: 'r' },
      { source: 'r', target: 'm' },
      { source: 'm', target: 'x' },
      { source: 'x', target: 'm' }
    ]
  };
  const depth = layers(graph);
  assert.equal(depth.get('d'), 0);
  assert.equal(depth.get('r'), 1);
  const l = layout(graph);
  assert.equal(l.nodes.length, 4);
  assert.equal(l.edges.length, 4);
  assert.ok(l.width > 0 && l.height > 0);
});
