/**
 * Pixels for a lineage graph placed by the server: each node's `layer` is its column and
 * `order` its row within the column (nbops.registry.render.placement computes both).
 */
import { LineageGraph, LineageNode } from './contract';

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

function placed(n: LineageNode, x: number, y: number): Placed {
  const label = typeof n.label === 'string' && n.label ? n.label : n.id;
  return { id: n.id, label, kind: String(n.kind ?? ''), x, y };
}

function joined(graph: LineageGraph, nodes: Placed[]): Layout['edges'] {
  const byId = new Map(nodes.map(p => [p.id, p]));
  return graph.edges
    .filter(e => byId.has(e.source) && byId.has(e.target))
    .map(e => ({
      from: byId.get(e.source) as Placed,
      to: byId.get(e.target) as Placed,
      kind: String(e.relation ?? '')
    }));
}

/** Sources first: by column, then by row within the column. */
function byPlace(a: LineageNode, b: LineageNode): number {
  return a.layer - b.layer || a.order - b.order;
}

/** The wide layout: one column per layer, left to right. */
export function layout(graph: LineageGraph): Layout {
  const nodes = graph.nodes.map(n =>
    placed(n, n.layer * (NODE_W + GAP_X), n.order * (NODE_H + GAP_Y))
  );
  const cols = graph.nodes.reduce((m, n) => Math.max(m, n.layer + 1), 0);
  const rows = graph.nodes.reduce((m, n) => Math.max(m, n.order + 1), 0);
  return {
    nodes,
    edges: joined(graph, nodes),
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
  const nodeW = Math.max(width - GUTTER, 80);
  const nodes = [...graph.nodes]
    .sort(byPlace)
    .map((n, i) => placed(n, GUTTER, i * (NODE_H + STACK_GAP)));
  return {
    nodes,
    edges: joined(graph, nodes),
    width: GUTTER + nodeW,
    height: Math.max(nodes.length * (NODE_H + STACK_GAP) - STACK_GAP, 0)
  };
}

/** How many characters of a label fit a node `width` pixels wide (about 6.5 px a character). */
export function labelRoom(width: number): number {
  return Math.max(Math.floor((width - 12) / 6.5), 6);
}
