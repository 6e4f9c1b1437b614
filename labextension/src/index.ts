import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { LabIcon } from '@jupyterlab/ui-components';
import { RegistryPanel } from './panel';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
  '<path d="M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM16.5 13l3.5 3.5-3.5 3.5-3.5-3.5z"/></g></svg>';

export const registryIcon = new LabIcon({ name: 'nbops:registry', svgstr: ICON_SVG });

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
  }
};

export default plugin;
