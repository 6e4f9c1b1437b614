import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { LabIcon } from '@jupyterlab/ui-components';
import { RegistryPanel } from './panel';
import { PipelinesPanel } from './pipelines';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
  '<path d="M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM16.5 13l3.5 3.5-3.5 3.5-3.5-3.5z"/></g></svg>';

export const registryIcon = new LabIcon({ name: 'nbops:registry', svgstr: ICON_SVG });

const PIPELINE_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
  '<path d="M3 5h6v4H3zM15 5h6v4h-6zM9 15h6v4H9zM6 9h1.5v3H12v3h-1.5v-1.5H6zM16.5 9H18v4.5h-4.5V12h3z"/></g></svg>';

export const pipelinesIcon = new LabIcon({ name: 'nbops:pipelines', svgstr: PIPELINE_SVG });

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbops:registry',
  description: 'The nbops "Models" sidebar: MLflow registered models, aliases, lineage, drift.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null): void => {
    const panel = new RegistryPanel(app);
    panel.title.icon = registryIcon;
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, 'nbops-registry');
    app.commands.addCommand('nbops:open-registry', {
      label: 'Show the nbops model registry',
      execute: () => app.shell.activateById(panel.id)
    });
    const pipelines = new PipelinesPanel(app);
    pipelines.title.icon = pipelinesIcon;
    app.shell.add(pipelines, 'left', { rank: 651 });
    restorer?.add(pipelines, 'nbops-pipelines');
    app.commands.addCommand('nbops:open-pipelines', {
      label: 'Show the nbops pipelines',
      execute: () => app.shell.activateById(pipelines.id)
    });
  }
};

export default plugin;
