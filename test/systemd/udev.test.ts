/**
 * systemd/99-gance-cooler.rules: syntax (udev's own `udevadm verify` where this systemd has it: it
 * came with systemd 254, Debian 12 has 252) and meaning, by evaluating the rules against the
 * devices they are for and against ones they must leave alone.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { evaluate, parseLine, parseRules, type Device } from '../helpers/udev.ts';

const RULES = fileURLToPath(new URL('../../systemd/99-gance-cooler.rules', import.meta.url));
const text = readFileSync(RULES, 'utf8');

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

describe('the example configs', () => {
  // rig.example.yaml named a CH340's /dev/serial/by-id/ path, which a FT232R or Uno board (or a
  // CH340 whose by-id name differs) never has; the rule's name is the same for every board it covers
  it.each(['config/rig.example.yaml', 'config/rig.firmata.example.yaml'])('%s opens the cooler at the name the udev rule gives it', async (file) => {
    const { parseConfigText } = await import('../../src/config/load.ts');
    const config = parseConfigText(readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8'), file);
    expect(config.cooler.driver).not.toBe('simulated');
    const names = new Set(
      [['1a86', '7523'], ['1a86', '5523'], ['0403', '6001'], ['2341', '0043'], ['2a03', '0043']].flatMap(([vid, pid]) => evaluate(rules, tty(vid!, pid!)).symlinks.map((l) => `/dev/${l}`)),
    );
    expect(names.size, [...names].join(', ')).toBe(1);
    expect(config.cooler.path).toBe([...names][0]);
  });
});

describe('the rule gance install writes', () => {
  it('pinned to cooler.usbSerialNumber: that board only, every vendor line, still valid', async () => {
    const { pinnedUdevRule } = await import('../../src/install/udev.ts');
    const pinned = parseRules(pinnedUdevRule(text, 'A50285BI'));
    for (const [vid, pid] of [['0403', '6001'], ['1a86', '7523'], ['2341', '0043']]) {
      expect(evaluate(pinned, tty(vid!, pid!, { serial: 'A50285BI' })).symlinks).toEqual(['gance-cooler']);
      expect(evaluate(pinned, tty(vid!, pid!, { serial: 'OTHER' })).symlinks).toEqual([]);
      expect(evaluate(pinned, tty(vid!, pid!)).symlinks).toEqual([]);
    }
    expect(pinnedUdevRule(text, undefined)).toBe(text);
    expect(() => pinnedUdevRule(text, 'x", RUN+="/bin/sh')).toThrow('cooler.usbSerialNumber');
  });
});
