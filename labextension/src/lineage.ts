/** Draw a lineage graph as SVG: left-to-right layers when they fit the width, else stacked
 * full-width rows; zoom (+, −, Fit) and drag to pan. Colours come from the theme's CSS. */
import { LineageGraph } from './contract';
import { button, h } from './dom';
import { clip, GUTTER, labelRoom, layout, Layout, NODE_H, NODE_W, stackedLayout } from './layout';

const SVG = 'http://www.w3.org/2000/svg';
const PAD = 8;
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2];

function el(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  return node;
}

function titled(node: SVGElement, text: string): SVGElement {
  const title = el('title', {});
  title.textContent = text;
  node.append(title);
  return node;
}

/** The SVG of `graph`: the layered layout, or the stacked one when it is wider than `width`. */
export function lineageSvg(graph: LineageGraph, width = Infinity): SVGSVGElement {
  const wide = layout(graph);
  const stacked = wide.width + 2 * PAD > width;
  const l: Layout = stacked ? stackedLayout(graph, width - 2 * PAD) : wide;
  const nodeW = stacked ? l.width - GUTTER : NODE_W;
  const svg = el('svg', {
    width: l.width + 2 * PAD,
    height: l.height + 2 * PAD,
    viewBox: `${-PAD} ${-PAD} ${l.width + 2 * PAD} ${l.height + 2 * PAD}`,
    class: `nbops-lineage-svg ${stacked ? 'nbops-mod-stacked' : 'nbops-mod-layered'}`,
    role: 'img',
    'aria-label': `Lineage: ${graph.nodes.length} nodes, ${graph.edges.length} edges`
  }) as SVGSVGElement;
  const marker = el('marker', {
    id: 'nbops-arrow',
    viewBox: '0 0 10 10',
    refX: 10,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse'
  });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'nbops-lineage-arrow' }));
  const defs = el('defs', {});
  defs.append(marker);
  svg.append(defs);
  for (const e of l.edges) {
    let d: string;
    if (stacked) {
      const y1 = e.from.y + NODE_H / 2;
      const y2 = e.to.y + NODE_H / 2;
      const bend = Math.min(GUTTER - 4, 6 + Math.abs(y2 - y1) / 12);
      d = `M ${GUTTER} ${y1} C ${GUTTER - bend} ${y1}, ${GUTTER - bend} ${y2}, ${GUTTER} ${y2}`;
    } else {
      const x1 = e.from.x + NODE_W;
      const y1 = e.from.y + NODE_H / 2;
      const x2 = e.to.x;
      const y2 = e.to.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      d = `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`;
    }
    const path = el('path', { d, class: 'nbops-lineage-edge', 'marker-end': 'url(#nbops-arrow)' });
    svg.append(titled(path, `${e.from.label} → ${e.to.label}${e.kind ? ` (${e.kind})` : ''}`));
  }
  for (const n of l.nodes) {
    const g = el('g', {
      class: `nbops-lineage-node nbops-kind-${n.kind.replace(/[^a-z0-9_-]/gi, '')}`,
      transform: `translate(${n.x},${n.y})`,
      'data-node-id': n.id
    });
    g.append(el('rect', { width: nodeW, height: NODE_H, rx: 4 }));
    const kind = el('text', { x: 6, y: 13, class: 'nbops-lineage-kind' });
    kind.textContent = n.kind.replace(/_/g, ' ');
    const label = el('text', { x: 6, y: 28, class: 'nbops-lineage-label' });
    label.textContent = clip(n.label, labelRoom(nodeW));
    g.append(kind, label);
    svg.append(titled(g, `${n.kind}: ${n.label}`));
  }
  return svg;
}

/** The lineage box: toolbar (zoom out, fit, zoom in) and a scrollable, draggable view. */
export class LineageView {
  readonly node: HTMLElement;
  private readonly view: HTMLElement;
  private readonly zoomLabel: HTMLElement;
  private zoom = 1;
  private width = 0;
  private observer: ResizeObserver;

  constructor(
    private readonly graph: LineageGraph,
    caption: string
  ) {
    this.view = h('div', { class: 'nbops-lineage-view', tabindex: '0', 'aria-label': 'Lineage graph' });
    this.zoomLabel = h('span', { class: 'nbops-zoom-level', 'aria-live': 'polite' }, '100%');
    const tools = h(
      'div',
      { class: 'nbops-lineage-tools', role: 'toolbar', 'aria-label': 'Lineage zoom' },
      h('span', { class: 'nbops-lineage-ref', title: caption }, caption),
      button('−', () => this.step(-1), { class: 'nbops-button nbops-zoom-out', title: 'Zoom out', 'aria-label': 'Zoom out' }),
      this.zoomLabel,
      button('+', () => this.step(1), { class: 'nbops-button nbops-zoom-in', title: 'Zoom in', 'aria-label': 'Zoom in' }),
      button('Fit', () => this.fit(), { class: 'nbops-button nbops-zoom-fit', title: 'Fit to the panel width' })
    );
    this.node = h('div', { class: 'nbops-lineage-box' }, tools, this.view);
    this.enablePan();
    this.observer = new ResizeObserver(() => {
      const w = this.view.clientWidth;
      if (w > 0 && Math.abs(w - this.width) > 16) {
        this.width = w;
        this.draw();
      }
    });
    this.observer.observe(this.view);
  }

  dispose(): void {
    this.observer.disconnect();
  }

  private draw(): void {
    const svg = lineageSvg(this.graph, this.width / this.zoom);
    const w = Number(svg.getAttribute('width'));
    const hgt = Number(svg.getAttribute('height'));
    svg.setAttribute('width', String(Math.round(w * this.zoom)));
    svg.setAttribute('height', String(Math.round(hgt * this.zoom)));
    this.view.replaceChildren(svg);
    this.zoomLabel.textContent = `${Math.round(this.zoom * 100)}%`;
  }

  private step(direction: 1 | -1): void {
    const i = ZOOMS.indexOf(this.zoom);
    const next = ZOOMS[Math.min(Math.max((i === -1 ? 2 : i) + direction, 0), ZOOMS.length - 1)];
    this.zoom = next;
    this.draw();
  }

  private fit(): void {
    this.zoom = 1;
    this.draw();
    this.view.scrollTo({ left: 0, top: 0 });
  }

  private enablePan(): void {
    let start: { x: number; y: number; left: number; top: number } | null = null;
    this.view.addEventListener('pointerdown', e => {
      start = { x: e.clientX, y: e.clientY, left: this.view.scrollLeft, top: this.view.scrollTop };
      this.view.classList.add('nbops-mod-panning');
    });
    this.view.addEventListener('pointermove', e => {
      if (start) {
        this.view.scrollLeft = start.left - (e.clientX - start.x);
        this.view.scrollTop = start.top - (e.clientY - start.y);
      }
    });
    const stop = (): void => {
      start = null;
      this.view.classList.remove('nbops-mod-panning');
    };
    this.view.addEventListener('pointerup', stop);
    this.view.addEventListener('pointerleave', stop);
    this.view.addEventListener('keydown', e => {
      if (e.key === '+' || e.key === '=') {
        this.step(1);
      } else if (e.key === '-') {
        this.step(-1);
      } else if (e.key === '0') {
        this.fit();
      }
    });
  }
}
