// Contrast of every visible text in `root`, from computed styles (WCAG 2 relative luminance).
// Text colour is composited over the nearest backgrounds up to an opaque one; SVG text is
// measured against the fill of the shape it sits on. Returns the measurements, worst first.
(root) => {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || "");
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (fg, bg) => [0, 1, 2].map((i) => fg[i] * fg[3] + bg[i] * (1 - fg[3])).concat(1);
  const backgroundOf = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let bg = [255, 255, 255, 1];
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none" && Number(s.opacity) > 0;
  };
  const out = [];
  for (const el of root.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const field = el.matches("input:not([type=hidden]), select") && (el.value || "").trim();
    if ((!own && !field) || !visible(el)) continue;
    let fg, bg;
    if (el instanceof SVGElement) {
      const shape = el.parentElement && el.parentElement.querySelector("rect");
      const base = backgroundOf(el.ownerSVGElement || el);
      fg = parse(getComputedStyle(el).fill);
      const fill = shape ? parse(getComputedStyle(shape).fill) : null;
      bg = fill ? over(fill, base) : base;
    } else {
      bg = backgroundOf(el);
      fg = parse(getComputedStyle(el).color);
    }
    if (!fg) continue;
    const text = (field ? el.value : el.textContent).trim().slice(0, 40);
    out.push({ text, ratio: Math.round(ratio(over(fg, bg), bg) * 100) / 100,
               cls: String(el.getAttribute("class") || el.tagName) });
  }
  return out.sort((a, b) => a.ratio - b.ratio);
}
