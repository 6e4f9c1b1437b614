/** Open a run's notebook snapshot as a read-only notebook (no kernel, never "modified"), or a
 * gate run's HTML report in JupyterLab's HTML viewer. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';
import { GateReport, NotebookSnapshot } from './contract';
import { gateReportPath, readOnlyNotebook, SNAPSHOT_DIR, snapshotPath } from './format';
import { requestAPI } from './request';

interface Changed {
  name: string;
  newValue: unknown;
}

interface SignalLike<T> {
  connect(fn: (sender: unknown, args: T) => void): unknown;
}

/** The parts of a NotebookPanel used here, checked at run time (no @jupyterlab/notebook import). */
interface SnapshotWidget {
  title: Widget['title'];
  sessionContext: { kernelPreference: Record<string, unknown> };
  context: {
    ready: Promise<void>;
    model: { dirty: boolean; stateChanged: SignalLike<Changed> };
  };
}

function isNotebookPanel(w: unknown): w is SnapshotWidget & Widget {
  return (
    w instanceof Widget &&
    'sessionContext' in w &&
    'context' in w &&
    typeof (w as { context: unknown }).context === 'object'
  );
}

async function ensureSnapshotDir(app: JupyterFrontEnd): Promise<void> {
  const contents = app.serviceManager.contents;
  try {
    await contents.get(SNAPSHOT_DIR, { content: false });
  } catch {
    await contents.save(SNAPSHOT_DIR, { type: 'directory' });
  }
}

/** Fetch the gate report of `runId`, save it as an .html file and open it in the HTML viewer
 * (a sandboxed frame; the report has no scripts). */
export async function openGateReport(app: JupyterFrontEnd, runId: string): Promise<string> {
  const report = await requestAPI<GateReport>(`runs/${encodeURIComponent(runId)}/gate-report`);
  await ensureSnapshotDir(app);
  const path = gateReportPath(report.run_id);
  await app.serviceManager.contents.save(path, { type: 'file', format: 'text', content: report.html });
  const widget: unknown = await app.commands.execute('docmanager:open', { path, factory: 'HTML Viewer' });
  if (widget instanceof Widget) {
    widget.title.caption = `Gate report of run ${report.run_id}: ${report.path}`;
  }
  return path;
}

/** Fetch the snapshot of `runId`, save the read-only copy and open it without a kernel. */
export async function openSnapshot(app: JupyterFrontEnd, runId: string): Promise<string> {
  const snap = await requestAPI<NotebookSnapshot>(`runs/${encodeURIComponent(runId)}/notebook`);
  const contents = app.serviceManager.contents;
  await ensureSnapshotDir(app);
  const path = snapshotPath(snap);
  await contents.save(path, { type: 'notebook', format: 'json', content: readOnlyNotebook(snap) });
  const widget: unknown = await app.commands.execute('docmanager:open', {
    path,
    factory: 'Notebook'
  });
  if (!isNotebookPanel(widget)) {
    return path;
  }
  // A snapshot is read, not run: no kernel starts, so no kernel dialog either.
  widget.sessionContext.kernelPreference = {
    ...widget.sessionContext.kernelPreference,
    shouldStart: false,
    canStart: false,
    autoStartDefault: false
  };
  widget.addClass('nbops-snapshot');
  const origin = snap.run_id === runId ? `run ${runId}` : `run ${snap.run_id} (parent of ${runId})`;
  const caption = `Read-only snapshot of ${origin}: ${snap.path}`;
  const model = widget.context.model;
  model.stateChanged.connect((_, change) => {
    if (change.name === 'dirty' && change.newValue) {
      model.dirty = false; // nothing to save: closing never asks
    }
  });
  await widget.context.ready;
  model.dirty = false;
  widget.title.caption = caption;
  widget.title.changed.connect(() => {
    if (widget.title.caption !== caption) {
      widget.title.caption = caption;
    }
  });
  return path;
}
