/** A tiny DOM builder: h('div', {class: 'x'}, child, 'text'). */
export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

export function button(
  label: string,
  onClick: () => void,
  attrs: Record<string, string> = {}
): HTMLButtonElement {
  const extra = (attrs.class ?? '').replace(/\b(jp-Button|nbops-button)\b/g, '').trim();
  const b = h('button', { type: 'button', ...attrs, class: `jp-Button nbops-button ${extra}`.trim() }, label);
  b.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return b;
}
