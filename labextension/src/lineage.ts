/** Draw a lineage graph as an SVG element (layout from ./layout). */
import { LineageGraph } from './contract';
import { clip, layout, NODE_H, NODE_W } from './layout';

const SVG = 'http://www.w3.org/2000/svg';
const PAD = 8;

function el(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  return node;
}

export function lineageSvg(graph: LineageGraph): SVGSVGElement {
  const l = layout(graph);
  const svg = el('svg', {
    width: l.width + 2 * PAD,
    height: l.height + 2 * PAD,
    viewBox: `${-PAD} ${-PAD} ${l.width + 2 * PAD} ${l.height + 2 * PAD}`,
    class: 'nbops-lineage-svg',
    role: 'img'
  }) as SVGSVGElement;
  const defs = el('defs', {});
  const marker = el('marker', {
    id: 'nbops-arrow',
    viewBox: '0 0 10 10',
    refX: 10,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: 'auto-start-reverse'
  });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'nbops-lineage-arrow' }));
  defs.append(marker);
  svg.append(defs);
  for (const e of l.edges) {
    const x1 = e.from.x + NODE_W;
    const y1 = e.from.y + NODE_H / 2;
    const x2 = e.to.x;
    const y2 = e.to.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    const path = el('path', {
      d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
      class: 'nbops-lineage-edge',
      'marker-end': 'url(#nbops-arrow)'
    });
    const title = el('title', {});
    title.textContent = `${e.from.label} → ${e.to.label}${e.kind ? ` (${e.kind})` : ''}`;
    path.append(title);
    svg.append(path);
  }
  for (const n of l.nodes) {
    const g = el('g', {
      class: `nbops-lineage-node nbops-kind-${n.kind.replace(/[^a-z0-9_-]/gi, '')}`,
      transform: `translate(${n.x},${n.y})`,
      'data-node-id': n.id
    });
    g.append(el('rect', { width: NODE_W, height: NODE_H, rx: 5 }));
    const kind = el('text', { x: 6, y: 12, class: 'nbops-lineage-kind' });
    kind.textContent = n.kind;
    const label = el('text', { x: 6, y: 27, class: 'nbops-lineage-label' });
    label.textContent = clip(n.label);
    const title = el('title', {});
    title.textContent = `${n.kind}: ${n.label}`;
    g.append(kind, label, title);
    svg.append(g);
  }
  return svg;
}
