/** Open a run's notebook snapshot as a read-only notebook: no kernel, never "modified". */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';
import { NotebookSnapshot } from './contract';
import { readOnlyNotebook, SNAPSHOT_DIR, snapshotPath } from './format';
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

/** Fetch the snapshot of `runId`, save the read-only copy and open it without a kernel. */
export async function openSnapshot(app: JupyterFrontEnd, runId: string): Promise<string> {
  const snap = await requestAPI<NotebookSnapshot>(`runs/${encodeURIComponent(runId)}/notebook`);
  const contents = app.serviceManager.contents;
  try {
    await contents.get(SNAPSHOT_DIR, { content: false });
  } catch {
    await contents.save(SNAPSHOT_DIR, { type: 'directory' });
  }
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
