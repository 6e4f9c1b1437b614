/** Pure formatting and ordering logic of the sidebar (unit-tested without JupyterLab). */
import {
  AuditEntry,
  ErrorBody,
  ModelSummary,
  MonitorStatus,
  NotebookSnapshot,
  VersionInfo
} from './contract';

export const STATUS_SEVERITY: Record<string, number> = { error: 3, drift: 2, warning: 1, ok: 0 };

export interface Badge {
  text: string;
  title: string;
  className: string;
}

const PROMOTION_ORDER = ['champion', 'prod', 'production', 'staging', 'challenger', 'candidate'];

/** Alias names with the usual promotion aliases first, then alphabetical. */
export function aliasOrder(aliases: Record<string, string>): string[] {
  const rank = (a: string): number => {
    const i = PROMOTION_ORDER.indexOf(a.toLowerCase());
    return i === -1 ? PROMOTION_ORDER.length : i;
  };
  return Object.keys(aliases).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Alias badges "alias → v3", in aliasOrder. */
export function aliasBadges(aliases: Record<string, string>): Badge[] {
  return aliasOrder(aliases).map(alias => ({
    text: `${alias} → v${aliases[alias]}`,
    title: `Alias "${alias}" points at version ${aliases[alias]}`,
    className: 'nbops-badge nbops-badge-alias'
  }));
}

/** The status chip of a model or version; null when no monitoring status is recorded. */
export function statusBadge(status: MonitorStatus | null): Badge | null {
  if (!status) {
    return null;
  }
  const known = status.status in STATUS_SEVERITY;
  const label = known ? status.status : `unknown (${status.status})`;
  const when = status.checked_at ? `, checked ${formatTime(status.checked_at)}` : '';
  return {
    text: label,
    title: `Monitoring of v${status.version}: ${label}${when}`,
    className: `nbops-badge nbops-status nbops-status-${known ? status.status : 'unknown'}`
  };
}

/** Tags `nbops.gate` writes on the challenger version it gated. */
export const GATE_DECISION_TAG = 'nbops.gate.decision';
export const GATE_RUN_TAG = 'nbops.gate.run';
/** Colour of a gate decision, as the monitoring status chips: passed green, rejected red. */
const GATE_STATUS: Record<string, string> = {
  promoted: 'ok',
  passed: 'ok',
  rejected: 'error',
  'dry-run': 'warning'
};

/** The "gate: promoted" chip of a version; null when no gate ran on it. */
export function gateBadge(tags: Record<string, string>): Badge | null {
  const decision = tags[GATE_DECISION_TAG];
  if (!decision) {
    return null;
  }
  const run = tags[GATE_RUN_TAG];
  return {
    text: `gate: ${decision}`,
    title: `Continuous-training gate: ${decision}${run ? ` (gate run ${run})` : ''}`,
    className: `nbops-badge nbops-status nbops-gate nbops-status-${GATE_STATUS[decision] ?? 'unknown'}`
  };
}

export type ModelOrder = 'name' | 'status' | 'updated';

/** Models sorted by name, by status (worst first) or by last update (newest first). */
export function sortModels(models: ModelSummary[], order: ModelOrder): ModelSummary[] {
  const sev = (m: ModelSummary): number =>
    m.status ? STATUS_SEVERITY[m.status.status] ?? -1 : -2;
  const byName = (a: ModelSummary, b: ModelSummary): number => a.name.localeCompare(b.name);
  const copy = [...models];
  if (order === 'status') {
    return copy.sort((a, b) => sev(b) - sev(a) || byName(a, b));
  }
  if (order === 'updated') {
    return copy.sort(
      (a, b) => (b.updated_at ?? '').localeCompare(a.updated_at ?? '') || byName(a, b)
    );
  }
  return copy.sort(byName);
}

/** Versions newest (highest number) first. */
export function sortVersions(versions: VersionInfo[]): VersionInfo[] {
  return [...versions].sort((a, b) => Number(b.version) - Number(a.version));
}

/** "2026-11-22 14:03 UTC" from an ISO string; the input itself when it does not parse. */
export function formatTime(iso: string | null): string {
  if (!iso) {
    return '—';
  }
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A metric value with 4 significant digits (integers stay whole). */
export function formatMetric(value: number): string {
  if (!Number.isFinite(value)) {
    return String(value);
  }
  if (Number.isInteger(value)) {
    return String(value);
  }
  return Number(value.toPrecision(4)).toString();
}

/** The first `n` metrics of a version as "acc=0.91, loss=0.2", keys sorted. */
export function metricSummary(metrics: Record<string, number>, n = 3): string {
  const keys = Object.keys(metrics).sort();
  const shown = keys.slice(0, n).map(k => `${k}=${formatMetric(metrics[k])}`);
  if (keys.length > n) {
    shown.push(`+${keys.length - n} more`);
  }
  return shown.join(', ') || '—';
}

/** One line per audit entry: "champion: v1 → v2 by ana (set) — better recall". */
export function auditLine(e: AuditEntry): string {
  const from = e.from_version ? `v${e.from_version}` : '∅';
  const to = e.to_version ? `v${e.to_version}` : '∅';
  const reason = e.reason ? ` — ${e.reason}` : '';
  return `${e.alias}: ${from} → ${to} by ${e.who || 'unknown'} (${e.action})${reason}`;
}

function isErrorBody(value: unknown): value is Partial<ErrorBody> {
  return typeof value === 'object' && value !== null && 'message' in value;
}

/**
 * The message to show for a failed request: the server's own message when the body is an
 * nbops/Jupyter error body, a fix-it line for 503 and auth failures, else the HTTP status.
 */
export function errorMessage(status: number, body: unknown, fallback = ''): string {
  let message = '';
  if (isErrorBody(body) && typeof body.message === 'string') {
    message = body.message;
  } else if (typeof body === 'string' && body.trim() && !body.trim().startsWith('<')) {
    message = body.trim();
  }
  if (status === 503) {
    return message || 'The MLflow tracking store cannot be reached. Check MLFLOW_TRACKING_URI.';
  }
  if (status === 403 || status === 401) {
    return `Not authorized (${status}): reload JupyterLab to refresh your login.${
      message ? ' ' + message : ''
    }`;
  }
  if (message) {
    return message;
  }
  return fallback || `Request failed with HTTP ${status}.`;
}

/** The version an alias is on, or '' when unset (for PromoteRequest.expected_current). */
export function currentOf(aliases: Record<string, string>, alias: string): string {
  return Object.prototype.hasOwnProperty.call(aliases, alias) ? aliases[alias] : '';
}

// -- dialogs ----------------------------------------------------------------------------
export const ALIAS_PATTERN = '[A-Za-z_][A-Za-z0-9_\\-]*';
const ALIAS_RE = new RegExp(`^${ALIAS_PATTERN}$`);

/** The problem with an alias typed in the promote dialog, or '' when it is fine. */
export function aliasProblem(alias: string): string {
  if (!alias) {
    return 'Give the alias to move, e.g. champion.';
  }
  if (!ALIAS_RE.test(alias)) {
    return 'An alias uses letters, digits, "_" or "-" and starts with a letter, e.g. champion.';
  }
  return '';
}

export function reasonProblem(reason: string): string {
  return reason ? '' : 'Give a reason: it is recorded in the audit trail.';
}

// -- snapshots --------------------------------------------------------------------------
export const SNAPSHOT_DIR = 'nbops-snapshots';

/** The notebook JSON with every cell marked read-only (nbformat's `editable`/`deletable`). */
export function readOnlyNotebook(snap: NotebookSnapshot): NotebookSnapshot['notebook'] {
  const nb = JSON.parse(JSON.stringify(snap.notebook)) as NotebookSnapshot['notebook'];
  for (const cell of nb.cells as { metadata?: Record<string, unknown> }[]) {
    cell.metadata = { ...(cell.metadata ?? {}), editable: false, deletable: false };
  }
  nb.metadata = {
    ...(nb.metadata ?? {}),
    nbops: { snapshot_of_run: snap.run_id, artifact: snap.path }
  };
  return nb;
}

/** Where a snapshot is saved: `nbops-snapshots/<run id>-<file>.ipynb`. */
export function snapshotPath(snap: NotebookSnapshot): string {
  const file = snap.path.split('/').pop() ?? 'history.ipynb';
  return `${SNAPSHOT_DIR}/${snap.run_id}-${file}`;
}

/** Where a gate report is saved: `nbops-snapshots/<run id>-gate-report.html`. */
export function gateReportPath(runId: string): string {
  return `${SNAPSHOT_DIR}/${runId}-gate-report.html`;
}

// -- pipeline params ----------------------------------------------------------------------
/** `KEY=VALUE` lines from params (values as JSON, strings bare). */
export function paramsText(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
}

/** Params from `KEY=VALUE` lines (a value that parses as JSON is that value); throws an Error
 * naming the first bad line. */
export function parseParams(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) {
      return;
    }
    const eq = line.indexOf('=');
    const key = eq === -1 ? '' : line.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new Error(`Line ${i + 1} "${line}": write KEY=VALUE with a name such as n_rows.`);
    }
    const value = line.slice(eq + 1).trim();
    try {
      out[key] = JSON.parse(value);
    } catch {
      out[key] = value;
    }
  });
  return out;
}
