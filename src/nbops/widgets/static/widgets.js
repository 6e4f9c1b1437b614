// nbops notebook widgets (anywidget ES module): the registry browser and the lineage picture.
// Data comes from the Python side (nbops.registry.service.RegistryService), as in the sidebar.

const SEVERITY = { error: 3, drift: 2, warning: 1, ok: 0 };
const NODE_W = 150, NODE_H = 34, GAP_X = 40, GAP_Y = 14, PAD = 8;
const SVG = "http://www.w3.org/2000/svg";

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

function badge(text, cls, title = "") {
  return h("span", { class: `nbw-badge ${cls}`, title }, text);
}

function statusBadge(s) {
  if (!s) return null;
  const known = s.status in SEVERITY;
  return badge(known ? s.status : `unknown (${s.status})`,
    `nbw-status nbw-status-${known ? s.status : "unknown"}`,
    `Monitoring of v${s.version}${s.checked_at ? ", checked " + s.checked_at : ""}`);
}

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function fmtMetrics(m) {
  const keys = Object.keys(m || {}).sort();
  const shown = keys.slice(0, 3).map(k => {
    const v = m[k];
    return `${k}=${Number.isInteger(v) ? v : Number(Number(v).toPrecision(4))}`;
  });
  if (keys.length > 3) shown.push(`+${keys.length - 3} more`);
  return shown.join(", ") || "—";
}

// Placed on the server (nbops.registry.lineage.render.placement): column = node.layer, row = node.order.
function lineageSvg(graph) {
  const nodes = graph.nodes || [], edges = graph.edges || [];
  const pos = new Map(nodes.map(n => [n.id, { x: n.layer * (NODE_W + GAP_X), y: n.order * (NODE_H + GAP_Y) }]));
  const cols = nodes.reduce((m, n) => Math.max(m, n.layer + 1), 0), rows = nodes.reduce((m, n) => Math.max(m, n.order + 1), 0);
  const width = Math.max(cols * (NODE_W + GAP_X) - GAP_X, 0), height = Math.max(rows * (NODE_H + GAP_Y) - GAP_Y, 0);
  const mk = (tag, attrs) => { const e = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v)); return e; };
  const svg = mk("svg", { width: width + 2 * PAD, height: height + 2 * PAD, viewBox: `${-PAD} ${-PAD} ${width + 2 * PAD} ${height + 2 * PAD}`, class: "nbw-lineage-svg", role: "img" });
  const marker = mk("marker", { id: "nbw-arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(mk("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "nbw-arrow" }));
  const defs = mk("defs", {}); defs.append(marker); svg.append(defs);
  for (const e of edges) {
    const a = pos.get(e.source), b = pos.get(e.target);
    if (!a || !b) continue;
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2, mid = (x1 + x2) / 2;
    const p = mk("path", { d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, class: "nbw-edge", "marker-end": "url(#nbw-arrow)" });
    const t = mk("title", {}); t.textContent = e.relation || ""; p.append(t);
    svg.append(p);
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const g = mk("g", { transform: `translate(${p.x},${p.y})`, class: `nbw-node nbw-kind-${String(n.kind).replace(/[^a-z0-9_-]/gi, "")}`, "data-node-id": n.id });
    g.append(mk("rect", { width: NODE_W, height: NODE_H, rx: 5 }));
    const k = mk("text", { x: 6, y: 12, class: "nbw-kind" }); k.textContent = n.kind;
    const label = String(n.label || n.id);
    const l = mk("text", { x: 6, y: 27, class: "nbw-label" }); l.textContent = label.length > 22 ? label.slice(0, 21) + "…" : label;
    const t = mk("title", {}); t.textContent = `${n.kind}: ${label}`;
    g.append(k, l, t);
    svg.append(g);
  }
  return svg;
}

function lineageBox(graph) {
  if (!graph || graph.error) return h("p", { class: "nbw-muted" }, graph && graph.error ? `Lineage unavailable: ${graph.error}` : "No lineage.");
  if (!(graph.nodes || []).length) return h("p", { class: "nbw-muted" }, "No lineage recorded.");
  return h("div", { class: "nbw-lineage" }, lineageSvg(graph));
}

function renderRegistry(model, el) {
  const root = h("div", { class: "nbw-registry" });
  const search = h("input", { type: "search", placeholder: "Search models", class: "nbw-search jp-mod-styled", "aria-label": "Search models by name" });
  search.value = model.get("search");
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { model.set("search", search.value.trim()); model.save_changes(); }, 250);
  });
  const body = h("div", { class: "nbw-body" });
  const select = name => { model.set("selected", name); model.save_changes(); };

  const draw = () => {
    const error = model.get("error");
    const selected = model.get("selected");
    const detail = model.get("detail");
    root.classList.toggle("nbw-loading", model.get("loading"));
    const parts = [];
    if (error) parts.push(h("div", { class: "nbw-error", role: "alert" }, error));
    if (selected && detail && detail.name === selected) {
      const back = h("button", { class: "nbw-button nbw-back", type: "button", title: "Back to the model list" }, "‹ Models");
      back.addEventListener("click", () => select(""));
      const rows = (detail.versions || []).map(v => h("tr", { "data-version": v.version },
        h("td", {}, `v${v.version}`),
        h("td", {}, ...(v.aliases || []).map(a => badge(a, "nbw-alias")), statusBadge(v.status)),
        h("td", { class: "nbw-metrics" }, fmtMetrics(v.run_metrics)),
        h("td", {}, fmtTime(v.created_at)),
        h("td", { class: "nbw-run" }, v.source_run_id ? v.source_run_id.slice(0, 8) : "—")));
      const history = (detail.history || []).map(e => h("li", {},
        `${fmtTime(e.when)} ${e.alias}: ${e.from_version ? "v" + e.from_version : "∅"} → ${e.to_version ? "v" + e.to_version : "∅"} by ${e.who} (${e.action})${e.reason ? " — " + e.reason : ""}`));
      const monitored = (detail.versions || []).filter(v => v.status).map(v => h("li", {},
        `v${v.version} `, statusBadge(v.status), v.status.report_run_id ? ` report run ${v.status.report_run_id}` : ""));
      parts.push(back, h("h3", {}, detail.name),
        h("div", {}, ...Object.entries(detail.aliases || {}).map(([a, v]) => badge(`${a} → v${v}`, "nbw-alias"))),
        h("h4", {}, "Monitoring"), monitored.length ? h("ul", {}, ...monitored) : h("p", { class: "nbw-muted" }, "No monitoring status yet."),
        h("h4", {}, "Versions"),
        h("table", { class: "nbw-versions" }, h("thead", {}, h("tr", {}, ...["Version", "Aliases / status", "Metrics", "Created", "Run"].map(t => h("th", {}, t)))), h("tbody", {}, ...rows)),
        h("h4", {}, "Lineage"), lineageBox(model.get("lineage")),
        h("h4", {}, "Alias history"), history.length ? h("ul", {}, ...history) : h("p", { class: "nbw-muted" }, "No alias moves recorded yet."));
    } else {
      const models = model.get("models") || [];
      if (!models.length && !error) {
        parts.push(h("p", { class: "nbw-muted nbw-empty" }, model.get("search") ? `No model matches "${model.get("search")}".` : "No registered models yet. Register one with nbops.log_model(model, name=\"my-model\")."));
      }
      parts.push(h("ul", { class: "nbw-list" }, ...models.map(m => {
        const li = h("li", { class: "nbw-item", "data-model": m.name, tabindex: "0", role: "button" },
          h("span", { class: "nbw-name" }, m.name), " ", statusBadge(m.status), " ",
          ...Object.entries(m.aliases || {}).map(([a, v]) => badge(`${a} → v${v}`, "nbw-alias")),
          h("span", { class: "nbw-muted" }, m.latest_version ? ` latest v${m.latest_version}` : " no versions"));
        li.addEventListener("click", () => select(m.name));
        li.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(m.name); } });
        return li;
      })));
    }
    body.replaceChildren(...parts);
  };
  for (const name of ["models", "detail", "lineage", "error", "selected", "loading"]) model.on(`change:${name}`, draw);
  root.append(h("div", { class: "nbw-toolbar" }, h("strong", {}, "Models "), search), body);
  el.append(root);
  draw();
  return () => { for (const name of ["models", "detail", "lineage", "error", "selected", "loading"]) model.off(`change:${name}`, draw); };
}

function renderLineage(model, el) {
  const root = h("div", { class: "nbw-lineage-widget" });
  const draw = () => {
    const error = model.get("error");
    root.replaceChildren(h("div", { class: "nbw-muted" }, model.get("ref")),
      error ? h("div", { class: "nbw-error", role: "alert" }, error) : lineageBox(model.get("graph")));
  };
  model.on("change:graph", draw); model.on("change:error", draw);
  el.append(root);
  draw();
  return () => { model.off("change:graph", draw); model.off("change:error", draw); };
}

export default {
  render({ model, el }) {
    return model.get("_view") === "lineage" ? renderLineage(model, el) : renderRegistry(model, el);
  },
};
