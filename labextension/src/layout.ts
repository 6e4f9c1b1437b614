/** Layered layout of a lineage graph: columns by distance along edges (sources left). */
import { LineageGraph } from './contract';

export interface Placed {
  id: string;
  label: string;
  kind: string;
  x: number;
  y: number;
}

export interface Layout {
  nodes: Placed[];
  edges: { from: Placed; to: Placed; kind: string }[];
  width: number;
  height: number;
}

export const NODE_W = 150;
export const NODE_H = 34;
const GAP_X = 40;
const GAP_Y = 14;

/** Column of each node = longest path from a source node (cycles are cut). */
export function layers(graph: LineageGraph): Map<string, number> {
  const ids = graph.nodes.map(n => n.id);
  const incoming = new Map<string, string[]>(ids.map(id => [id, []]));
  for (const e of graph.edges) {
    if (incoming.has(e.target) && incoming.has(e.source)) {
      incoming.get(e.target)?.push(e.source);
    }
  }
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(id)) {
      return 0;
    }
    visiting.add(id);
    const parents = incoming.get(id) ?? [];
    const d = parents.length ? Math.max(...parents.map(p => visit(p) + 1)) : 0;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  ids.forEach(visit);
  return depth;
}

export function layout(graph: LineageGraph): Layout {
  const depth = layers(graph);
  const columns = new Map<number, Placed[]>();
  for (const n of graph.nodes) {
    const col = depth.get(n.id) ?? 0;
    const list = columns.get(col) ?? [];
    const label = typeof n.label === 'string' && n.label ? n.label : n.id;
    list.push({ id: n.id, label, kind: String(n.kind ?? ''), x: 0, y: 0 });
    columns.set(col, list);
  }
  const byId = new Map<string, Placed>();
  let rows = 0;
  for (const [col, list] of columns) {
    list.sort((a, b) => a.kind.localeCompare(b.kind) || a.label.localeCompare(b.label));
    list.forEach((p, i) => {
      p.x = col * (NODE_W + GAP_X);
      p.y = i * (NODE_H + GAP_Y);
      byId.set(p.id, p);
    });
    rows = Math.max(rows, list.length);
  }
  const edges = graph.edges
    .filter(e => byId.has(e.source) && byId.has(e.target))
    .map(e => ({
      from: byId.get(e.source) as Placed,
      to: byId.get(e.target) as Placed,
      kind: String(e.relation ?? '')
    }));
  const cols = columns.size ? Math.max(...columns.keys()) + 1 : 0;
  return {
    nodes: [...byId.values()],
    edges,
    width: Math.max(cols * (NODE_W + GAP_X) - GAP_X, 0),
    height: Math.max(rows * (NODE_H + GAP_Y) - GAP_Y, 0)
  };
}

/** Shorten a label to fit a node box. */
export function clip(label: string, max = 22): string {
  return label.length > max ? label.slice(0, max - 1) + '…' : label;
}

export const GUTTER = 28;
const STACK_GAP = 8;

/**
 * The narrow layout: one full-width node per row, sources first (by layer), edges drawn as
 * arcs in a left gutter with their arrowheads on the target's left side. Fits any width
 * from about 180 px without scaling the text down.
 */
export function stackedLayout(graph: LineageGraph, width: number): Layout {
  const depth = layers(graph);
  const nodeW = Math.max(width - GUTTER, 80);
  const placed: Placed[] = graph.nodes.map(n => ({
    id: n.id,
    label: typeof n.label === 'string' && n.label ? n.label : n.id,
    kind: String(n.kind ?? ''),
    x: GUTTER,
    y: 0
  }));
  placed.sort(
    (a, b) =>
      (depth.get(a.id) ?? 0) - (depth.get(b.id) ?? 0) ||
      a.kind.localeCompare(b.kind) ||
      a.label.localeCompare(b.label)
  );
  placed.forEach((p, i) => (p.y = i * (NODE_H + STACK_GAP)));
  const byId = new Map(placed.map(p => [p.id, p]));
  const edges = graph.edges
    .filter(e => byId.has(e.source) && byId.has(e.target))
    .map(e => ({
      from: byId.get(e.source) as Placed,
      to: byId.get(e.target) as Placed,
      kind: String(e.relation ?? '')
    }));
  return {
    nodes: placed,
    edges,
    width: GUTTER + nodeW,
    height: Math.max(placed.length * (NODE_H + STACK_GAP) - STACK_GAP, 0)
  };
}

/** How many characters of a label fit a node `width` pixels wide (about 6.5 px a character). */
export function labelRoom(width: number): number {
  return Math.max(Math.floor((width - 12) / 6.5), 6);
}
