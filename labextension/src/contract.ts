/**
 * The wire contract of /nbops/api/: one interface per dataclass of
 * src/nbops/server/contract.py, field for field (tests/server/test_server_contract.py
 * fails naming any field that differs). Times are ISO 8601 UTC strings; versions are strings.
 */

export type StatusValue = 'ok' | 'warning' | 'drift' | 'error';

export interface MonitorStatus {
  status: StatusValue | string;
  version: string;
  report_run_id: string | null;
  checked_at: string | null;
}

export interface ModelSummary {
  name: string;
  description: string;
  aliases: Record<string, string>;
  latest_version: string | null;
  tags: Record<string, string>;
  status: MonitorStatus | null;
  updated_at: string | null;
}

export interface ModelPage {
  models: ModelSummary[];
  next_page_token: string | null;
}

export interface VersionInfo {
  version: string;
  created_at: string | null;
  source_run_id: string | null;
  run_metrics: Record<string, number>;
  tags: Record<string, string>;
  aliases: string[];
  status: MonitorStatus | null;
  description: string;
  source: string;
}

export type AuditAction = 'set' | 'delete' | 'rollback' | 'serve';

export interface AuditEntry {
  alias: string;
  from_version: string | null;
  to_version: string | null;
  when: string;
  who: string;
  reason: string | null;
  action: AuditAction | string;
}

export interface ModelDetail {
  name: string;
  description: string;
  aliases: Record<string, string>;
  tags: Record<string, string>;
  versions: VersionInfo[];
  history: AuditEntry[];
  /** alias -> the version "Rollback" restores; aliases with no earlier version are absent */
  rollback_targets: Record<string, string>;
}

export interface RunSummary {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: string;
  start_time: string | null;
  end_time: string | null;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
}

export interface RunPage {
  runs: RunSummary[];
  next_page_token: string | null;
}

export interface RunComparison {
  runs: RunSummary[];
  param_keys: string[];
  metric_keys: string[];
  differing_params: string[];
}

export interface NotebookSnapshot {
  run_id: string;
  path: string;
  notebook: { cells: unknown[]; metadata?: Record<string, unknown> } & Record<string, unknown>;
}

/** GET runs/<id>/gate-report: the HTML report a gate run logged. */
export interface GateReport {
  run_id: string;
  path: string;
  html: string;
}

export interface AliasChange {
  name: string;
  alias: string;
  version: string;
  previous_version: string | null;
  action: string;
  entry: AuditEntry | null;
}

export type ErrorReason = 'validation' | 'forbidden' | 'not_found' | 'conflict' | 'store_unavailable';

export interface ErrorBody {
  status: number;
  reason: ErrorReason | string;
  message: string;
  extra: Record<string, unknown>;
}

/** Body of POST models/<name>/aliases. */
export interface PromoteRequest {
  alias: string;
  version: string;
  reason?: string;
  /** The version the UI showed the alias on ('' = unset); a mismatch answers 409. */
  expected_current?: string;
}

/** Body of POST models/<name>/aliases/<alias>/rollback. */
export interface RollbackRequest {
  reason?: string;
  /** The version the UI showed the alias on; a mismatch (moved meanwhile) answers 409. */
  expected_current?: string;
}

/**
 * GET lineage: LineageGraph.to_dict() of nbops.registry (schema nbops.lineage/1), each node
 * placed on the server (nbops.registry.render.placement): the drawing computes no layout.
 */
export interface LineageNode {
  id: string;
  kind: string;
  label: string;
  attrs?: Record<string, unknown>;
  /** column: sources at 0, data flows left to right */
  layer: number;
  /** row within the column (neighbours kept level) */
  order: number;
}

export interface LineageEdge {
  source: string;
  target: string;
  relation?: string;
}

export interface LineageGraph {
  root?: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
  truncated?: boolean;
  [key: string]: unknown;
}

/** GET pipelines: the pipeline specs under the Jupyter root. */
export interface PipelineStep {
  name: string;
  notebook: string;
  depends_on: string[];
}

export interface ScheduleInfo {
  name: string;
  cron: string;
  timezone: string | null;
  next_run: string | null;
  last_run: string | null;
  last_event: string | null;
}

export interface StepRun {
  name: string;
  status: string;
  run_id: string;
  failure: string | null;
}

export interface PipelineRun {
  run_id: string;
  status: string;
  start_time: string | null;
  end_time: string | null;
  steps: StepRun[];
  params: Record<string, string>;
}

export interface PipelineInfo {
  path: string;
  name: string;
  experiment: string;
  steps: PipelineStep[];
  schedules: ScheduleInfo[];
  runs: PipelineRun[];
  error: string | null;
  params: Record<string, unknown>;
}

export interface PipelineList {
  pipelines: PipelineInfo[];
}

/** POST pipelines/run: the `nbops run` process started. */
export interface RunStarted {
  path: string;
  pid: number;
  log: string;
}
