/** A small udev rules parser and evaluator, enough for the cooler's rule (test/systemd/udev.test.ts, test/cli/install.test.ts). */

type Op = '==' | '!=' | '=' | '+=' | '-=' | ':=';
interface Term {
  key: string;
  attr: string | null;
  op: Op;
  value: string;
}

const MATCH_ONLY = new Set(['ACTION', 'DEVPATH', 'KERNEL', 'KERNELS', 'SUBSYSTEM', 'SUBSYSTEMS', 'DRIVER', 'DRIVERS', 'ATTRS', 'TAGS', 'TEST', 'PROGRAM', 'RESULT']);
const ASSIGN_ONLY = new Set(['SYMLINK', 'GROUP', 'OWNER', 'MODE', 'GOTO', 'LABEL', 'RUN', 'TAG', 'OPTIONS', 'NAME', 'IMPORT']);
const BOTH = new Set(['ENV', 'ATTR']);
const NEEDS_ATTR = new Set(['ATTRS', 'ATTR', 'ENV']);

/** One rule line -> its terms; throws naming the line and column on anything udev would reject. */
export function parseLine(line: string, lineNo: number): Term[] {
  const terms: Term[] = [];
  const re = /\s*([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)/y;
  let pos = 0;
  while (pos < line.length) {
    re.lastIndex = pos;
    const m = re.exec(line);
    if (!m) throw new Error(`line ${lineNo}, column ${pos + 1}: cannot parse ${JSON.stringify(line.slice(pos, pos + 30))}`);
    const [, key, attr, op, value, sep] = m as unknown as [string, string, string | undefined, Op, string, string];
    if (!MATCH_ONLY.has(key) && !ASSIGN_ONLY.has(key) && !BOTH.has(key)) throw new Error(`line ${lineNo}: unknown key ${key}`);
    if (NEEDS_ATTR.has(key) !== (attr !== undefined)) throw new Error(`line ${lineNo}: ${key} ${attr ? 'takes no' : 'needs an'} {attribute}`);
    const isMatch = op === '==' || op === '!=';
    if (MATCH_ONLY.has(key) && !isMatch) throw new Error(`line ${lineNo}: ${key} can only be matched (== or !=), not assigned with ${op}`);
    if (ASSIGN_ONLY.has(key) && isMatch) throw new Error(`line ${lineNo}: ${key} can only be assigned, not matched with ${op}`);
    terms.push({ key, attr: attr ?? null, op, value });
    pos = m.index + m[0].length;
    if (sep === '') break;
  }
  if (terms.length === 0) throw new Error(`line ${lineNo}: empty rule`);
  return terms;
}

export function parseRules(src: string): Array<{ lineNo: number; terms: Term[] }> {
  return src
    .split('\n')
    .map((l, i) => ({ l: l.trim(), lineNo: i + 1 }))
    .filter(({ l }) => l !== '' && !l.startsWith('#'))
    .map(({ l, lineNo }) => ({ lineNo, terms: parseLine(l, lineNo) }));
}

export interface Device {
  action: string;
  subsystem: string;
  /** attributes of the device and its parents, as ATTRS{} sees them */
  attrs: Record<string, string>;
}

/** A small udev: matches, GOTO/LABEL, and the assignments these rules use. */
export function evaluate(rules: ReturnType<typeof parseRules>, dev: Device): { symlinks: string[]; group?: string; mode?: string; env: Record<string, string> } {
  const out: { symlinks: string[]; group?: string; mode?: string; env: Record<string, string> } = { symlinks: [], env: {} };
  let skipTo: string | null = null;
  for (const { terms } of rules) {
    const label = terms.find((t) => t.key === 'LABEL');
    if (skipTo !== null) {
      if (label?.value === skipTo) skipTo = null;
      continue;
    }
    if (label) continue;
    const matches = terms.every((t) => {
      if (t.op !== '==' && t.op !== '!=') return true;
      const actual = t.key === 'ACTION' ? dev.action : t.key === 'SUBSYSTEM' ? dev.subsystem : t.key === 'ATTRS' ? dev.attrs[t.attr!] : t.key === 'ENV' ? out.env[t.attr!] : undefined;
      const glob = new RegExp(`^${t.value.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      const hit = actual !== undefined && t.value.split('|').some((v) => (v === t.value ? glob : new RegExp(`^${v}$`)).test(actual));
      return t.op === '==' ? hit : !hit;
    });
    if (!matches) continue;
    for (const t of terms) {
      if (t.key === 'SYMLINK') out.symlinks.push(...t.value.split(/\s+/).filter(Boolean));
      else if (t.key === 'GROUP') out.group = t.value;
      else if (t.key === 'MODE') out.mode = t.value;
      else if (t.key === 'ENV' && (t.op === '=' || t.op === ':=')) out.env[t.attr!] = t.value;
      else if (t.key === 'GOTO') skipTo = t.value;
    }
  }
  return out;
}

