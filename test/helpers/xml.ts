/**
 * A strict well-formedness check for the XML the daemon writes (SVG charts): one root, every tag
 * closed in order, attributes quoted and unique, only the five predefined entities or numeric
 * references, no stray '<' or '&'. Returns the elements (name, attributes, text) for assertions.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*$/;

function checkText(s: string, where: number): void {
  if (s.includes('<')) throw new Error(`stray '<' at ${where}`);
  for (const m of s.matchAll(/&([^;]*);?/g)) {
    if (!m[0].endsWith(';') || !/^(lt|gt|amp|apos|quot|#\d+|#x[0-9a-fA-F]+)$/.test(m[1]!)) throw new Error(`bad entity "${m[0]}" at ${where + m.index!}`);
  }
}

export function parseXml(xml: string): XmlElement[] {
  const elements: XmlElement[] = [];
  const stack: XmlElement[] = [];
  let pos = 0;
  let roots = 0;
  const body = xml.replace(/^\s*<\?xml[^?]*\?>/, '');
  while (pos < body.length) {
    const lt = body.indexOf('<', pos);
    const text = body.slice(pos, lt < 0 ? body.length : lt);
    checkText(text, pos);
    if (stack.length) stack[stack.length - 1]!.text += text;
    else if (text.trim()) throw new Error(`text outside the root at ${pos}`);
    if (lt < 0) break;
    const gt = body.indexOf('>', lt);
    if (gt < 0) throw new Error(`unclosed tag at ${lt}`);
    const tag = body.slice(lt + 1, gt);
    pos = gt + 1;
    if (tag.startsWith('!--')) {
      if (!tag.endsWith('--')) throw new Error(`bad comment at ${lt}`);
      continue;
    }
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> at ${lt} closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const inner = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([^\s]+)([\s\S]*)$/.exec(inner);
    if (!m || !NAME.test(m[1]!)) throw new Error(`bad tag name at ${lt}: "${inner.slice(0, 20)}"`);
    const attrs: Record<string, string> = {};
    let rest = m[2]!;
    const attr = /^\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/;
    for (;;) {
      const a = attr.exec(rest);
      if (!a) break;
      if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} at ${lt}`);
      const v = a[3] ?? a[4] ?? '';
      checkText(v, lt);
      attrs[a[1]!] = v;
      rest = rest.slice(a[0].length);
    }
    if (rest.trim()) throw new Error(`malformed attributes at ${lt}: "${rest.trim().slice(0, 30)}"`);
    if (!stack.length && ++roots > 1) throw new Error(`second root element at ${lt}`);
    const el = { name: m[1]!, attrs, text: '' };
    elements.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (roots !== 1) throw new Error('no root element');
  return elements;
}
