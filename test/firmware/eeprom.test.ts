/** Watchdog and failsafe settings kept in EEPROM across power cycles, where PROTOCOL.md says. */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command, decodeHello, decodeSettings, encodeSetDuty, encodeSetSettings } from '../../src/cooler/protocol/messages.ts';
import { CoolerSim, F_CPU } from '../../test/helpers/avr/sim.ts';
import { bootSim } from '../../test/helpers/avr/sim-client.ts';

const FIRMWARE = fileURLToPath(new URL('../../firmware', import.meta.url));

/** The EEPROM table of PROTOCOL.md: block name -> { address, size }. */
function documentedBlocks(): Map<string, { address: number; size: number }> {
  const doc = readFileSync(join(FIRMWARE, 'PROTOCOL.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## EEPROM'), doc.indexOf('## Versioning'));
  const blocks = new Map<string, { address: number; size: number }>();
  for (const m of section.matchAll(/^\| (0x[0-9a-fA-F]+) \| (\d+) \| (boot count|settings block):/gm)) {
    blocks.set(m[3]!, { address: Number(m[1]), size: Number(m[2]) });
  }
  return blocks;
}
const doc = documentedBlocks();
const settingsAt = (): number => doc.get('settings block')!.address;
const bootsAt = (): number => doc.get('boot count')!.address;

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'gance-fw-eeprom-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('firmware EEPROM layout', () => {
  it('PROTOCOL.md has the addresses the linker gave the blocks (avr-nm on a fresh .elf)', () => {
    cpSync(join(FIRMWARE, 'src'), join(scratch, 'src'), { recursive: true });
    cpSync(join(FIRMWARE, 'Makefile'), join(scratch, 'Makefile'));
    execFileSync('make', ['-s', '-C', scratch, 'BUILD=out', 'out/cooler.elf'], { stdio: 'ignore' });
    const nm = execFileSync('avr-nm', ['-S', join(scratch, 'out/cooler.elf')], { encoding: 'utf8' });
    // EEMEM data lives at 0x810000 + address in the .elf
    const symbol = (name: string): { address: number; size: number } => {
      const m = nm.match(new RegExp(`^(0081[0-9a-f]{4}) ([0-9a-f]{8}) d ${name}$`, 'm'));
      if (!m) throw new Error(`no EEPROM symbol ${name} in:\n${nm}`);
      return { address: parseInt(m[1]!, 16) - 0x810000, size: parseInt(m[2]!, 16) };
    };
    expect(doc.size).toBe(2);
    expect(doc.get('boot count')).toEqual(symbol('boots'));
    expect(doc.get('settings block')).toEqual(symbol('stored'));
  });

  it('the committed image keeps the boot count and the settings where PROTOCOL.md says', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    const le16 = (at: number): number => sim.eeprom.memory[at]! | (sim.eeprom.memory[at + 1]! << 8);
    expect(le16(bootsAt())).toBe(1); // first boot of a blank chip
    client.request(Command.setSettings, encodeSetSettings({ watchdogMs: 2000, failsafeDuty: 1, kickDuty: 1, kickMs: 0, threePinMask: 0 }), 500);
    expect(le16(settingsAt())).toBe(0x4347); // magic "GC"
    expect(sim.eeprom.memory[settingsAt() + 2]).toBe(1); // layout
    expect(le16(settingsAt() + 3)).toBe(2000); // watchdog ms
    sim.powerCycle();
    bootSim(sim);
    expect(le16(bootsAt())).toBe(2);
  });
});

describe('firmware EEPROM settings', () => {
  it('starts from defaults on a blank EEPROM', () => {
    const client = bootSim(new CoolerSim());
    expect(decodeSettings(client.request(Command.getSettings))).toEqual({
      watchdogMs: 3000,
      failsafeDuty: 1,
      kickDuty: 1,
      kickMs: 1000,
      threePinMask: 0,
      fromEeprom: false,
    });
  });

  it('keeps SET_SETTINGS across a power cycle and uses the stored watchdog', () => {
    const sim = new CoolerSim();
    let client = bootSim(sim);
    const wanted = { watchdogMs: 1200, failsafeDuty: 0.8, kickDuty: 0.9, kickMs: 700, threePinMask: 0b1000 };
    expect(decodeSettings(client.request(Command.setSettings, encodeSetSettings(wanted), 500))).toEqual({ ...wanted, fromEeprom: true });
    sim.powerCycle();
    client = bootSim(sim);
    expect(decodeSettings(client.request(Command.getSettings))).toEqual({ ...wanted, fromEeprom: true });
    // the stored 1.2 s watchdog and 80% failsafe duty are what the firmware now does
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.3 }]));
    const from = sim.cycles;
    sim.runUntil(() => sim.pwm(0).duty > 0.5, 2000);
    expect(((sim.cycles - from) / F_CPU) * 1000).toBeCloseTo(1200, -1);
    expect(sim.pwm(0).duty).toBeCloseTo(0.8, 2);
    // every boot is counted in EEPROM, so the host can tell a restart from a reconnect
    expect(decodeHello(client.request(Command.hello)).boots).toBe(2);
    // and a new chip given the same EEPROM image reads it too
    const other = bootSim(new CoolerSim({ eeprom: sim.eeprom.memory }));
    expect(decodeSettings(other.request(Command.getSettings)).watchdogMs).toBe(1200);
  });

  it('falls back to defaults when the stored block is corrupt', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setSettings, encodeSetSettings({ watchdogMs: 2000, failsafeDuty: 1, kickDuty: 1, kickMs: 0, threePinMask: 0 }), 500);
    sim.eeprom.memory[settingsAt() + 3]! ^= 0x01; // flip a bit of watchdog_ms: the CRC no longer matches
    sim.powerCycle();
    const again = bootSim(sim);
    expect(decodeSettings(again.request(Command.getSettings))).toMatchObject({ watchdogMs: 3000, fromEeprom: false });
  });
});
