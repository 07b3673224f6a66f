/**
 * systemd/99-gance-cooler.rules: syntax (udev's own `udevadm verify` where this systemd has it: it
 * came with systemd 254, Debian 12 has 252) and meaning, by evaluating the rules against the
 * devices they are for and against ones they must leave alone.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const RULES = fileURLToPath(new URL('../../systemd/99-gance-cooler.rules', import.meta.url));
const text = readFileSync(RULES, 'utf8');

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
function parseLine(line: string, lineNo: number): Term[] {
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

function parseRules(src: string): Array<{ lineNo: number; terms: Term[] }> {
  return src
    .split('\n')
    .map((l, i) => ({ l: l.trim(), lineNo: i + 1 }))
    .filter(({ l }) => l !== '' && !l.startsWith('#'))
    .map(({ l, lineNo }) => ({ lineNo, terms: parseLine(l, lineNo) }));
}

interface Device {
  action: string;
  subsystem: string;
  /** attributes of the device and its parents, as ATTRS{} sees them */
  attrs: Record<string, string>;
}

/** A small udev: matches, GOTO/LABEL, and the assignments these rules use. */
function evaluate(rules: ReturnType<typeof parseRules>, dev: Device): { symlinks: string[]; group?: string; mode?: string; env: Record<string, string> } {
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

const rules = parseRules(text);
const tty = (idVendor: string, idProduct: string, extra: Record<string, string> = {}): Device => ({ action: 'add', subsystem: 'tty', attrs: { idVendor, idProduct, ...extra } });

describe('99-gance-cooler.rules', () => {
  it('parses: known keys, match keys only matched, assignment keys only assigned, quoted values', () => {
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(() => parseLine('SUBSYSTEM="tty"', 1)).toThrow('SUBSYSTEM can only be matched'); // the checker itself bites
    expect(() => parseLine('ATTRS{idVendor}=="1a86" SYMLINK+="x"', 1)).toThrow('cannot parse');
    expect(() => parseLine('GROUP=="dialout"', 1)).toThrow('GROUP can only be assigned');
  });

  it('every GOTO has its LABEL, after it', () => {
    const labels = rules.filter((r) => r.terms.some((t) => t.key === 'LABEL'));
    for (const r of rules) {
      const go = r.terms.find((t) => t.key === 'GOTO');
      if (!go) continue;
      const target = labels.find((l) => l.terms.some((t) => t.key === 'LABEL' && t.value === go.value));
      expect(target, `GOTO "${go.value}" on line ${r.lineNo}`).toBeDefined();
      expect(target!.lineNo).toBeGreaterThan(r.lineNo);
    }
  });

  it('every vendor/product id is four lowercase hex digits (udev compares sysfs text)', () => {
    for (const r of rules) for (const t of r.terms) if (t.attr === 'idVendor' || t.attr === 'idProduct') expect(t.value).toMatch(/^[0-9a-f]{4}$/);
  });

  it.each([
    ['CH340', '1a86', '7523'],
    ['CH341', '1a86', '5523'],
    ['FT232R', '0403', '6001'],
    ['Uno R3 ATmega16U2', '2341', '0043'],
    ['Uno R3 (arduino.org)', '2a03', '0043'],
  ])('a %s port becomes /dev/gance-cooler, group dialout 0660, ModemManager off', (_name, vid, pid) => {
    const r = evaluate(rules, tty(vid, pid));
    expect(r.symlinks).toEqual(['gance-cooler']);
    expect(r.group).toBe('dialout');
    expect(r.mode).toBe('0660');
    expect(r.env.ID_MM_DEVICE_IGNORE).toBe('1');
  });

  it('leaves other devices, non-tty nodes of the same chip, and removals alone', () => {
    expect(evaluate(rules, tty('067b', '2303')).symlinks).toEqual([]); // a Prolific adapter
    expect(evaluate(rules, { action: 'add', subsystem: 'usb', attrs: { idVendor: '1a86', idProduct: '7523' } }).symlinks).toEqual([]);
    expect(evaluate(rules, { ...tty('1a86', '7523'), action: 'remove' }).symlinks).toEqual([]);
  });

  it('the pinned-to-one-board example in the comments is valid and matches only that serial number', () => {
    const example = text
      .split('\n')
      .find((l) => l.startsWith('#   SUBSYSTEM=="tty"'))!
      .replace(/^#\s+/, '');
    const pinned = [{ lineNo: 1, terms: parseLine(example, 1) }];
    expect(evaluate(pinned, tty('0403', '6001', { serial: 'A50285BI' })).symlinks).toEqual(['gance-cooler']);
    expect(evaluate(pinned, tty('0403', '6001', { serial: 'OTHER' })).symlinks).toEqual([]);
  });

  const verify = spawnSync('udevadm', ['verify', '--help'], { encoding: 'utf8' });
  it.skipIf(verify.status !== 0)('udevadm verify accepts it (systemd >= 254)', () => {
    const r = spawnSync('udevadm', ['verify', '--no-style', RULES], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).not.toMatch(/error|invalid/i);
    expect(r.status).toBe(0);
  });
});
