import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_HEX, FlashError, avrdudeArgs, checkIntelHex, findExecutable, flashFirmware, planFlash } from '../../src/cooler/flash.ts';
import { register } from '../../src/cli/firmware-flash.ts';
import { ptyTarget } from './stk500-target.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gance-flash-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Flash bytes of an Intel HEX file, parsed here independently of the code under test. */
function hexBytes(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith(':')) continue;
    const b = Buffer.from(line.slice(1).trim(), 'hex');
    if (b[3] !== 0) continue;
    const addr = b.readUInt16BE(1);
    for (let i = 0; i < b[0]!; i++) out.set(addr + i, b[4 + i]!);
  }
  return out;
}

function record(addr: number, data: number[], type = 0): string {
  const bytes = [data.length, addr >> 8, addr & 0xff, type, ...data];
  const sum = (0x100 - (bytes.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
  return `:${[...bytes, sum].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join('')}`;
}
const EOF_RECORD = ':00000001FF';

function writeTmp(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function runCli(args: string[], program = new Command('gance').exitOverride()): Promise<string> {
  register(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('avrdude command', () => {
  it('builds the Arduino bootloader command for each board', () => {
    const base = { port: '/dev/ttyUSB0', hex: '/x/cooler.hex' };
    expect(avrdudeArgs({ ...base, board: 'nano' })).toEqual(['-c', 'arduino', '-p', 'm328p', '-P', '/dev/ttyUSB0', '-b', '115200', '-D', '-U', 'flash:w:/x/cooler.hex:i']);
    expect(avrdudeArgs({ ...base, board: 'uno' })).toContain('115200');
    expect(avrdudeArgs({ ...base, board: 'nano-old' }).slice(6, 8)).toEqual(['-b', '57600']);
    expect(() => avrdudeArgs({ ...base, board: 'mega' as never })).toThrow('--board: "mega" is not one of nano, nano-old, uno');
  });

  it('--dry-run prints the exact command with the committed image, and writes nothing', async () => {
    const out = await runCli(['firmware', 'flash', '--dry-run', '--path', '/dev/ttyUSB0', '--board', 'nano-old']);
    expect(out).toBe(`avrdude -c arduino -p m328p -P /dev/ttyUSB0 -b 57600 -D -U flash:w:${DEFAULT_HEX}:i\n`);
  });

  it('--dry-run defaults to the udev name and takes the port from --config', async () => {
    expect(await runCli(['firmware', 'flash', '--dry-run'])).toContain('-P /dev/gance-cooler -b 115200');
    const cfg = writeTmp(
      'rig.yaml',
      'cooler:\n  driver: firmata\n  path: /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0\n  fans: [{ id: a, channel: 9 }]\nthermal:\n  sensors: { source: nvidia-smi }\n  zones: [{ id: z, gpus: [0], fans: [a], mode: fixed }]\n',
    );
    expect(await runCli(['firmware', 'flash', '--dry-run', '-c', cfg])).toContain('-P /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0 ');
  });

  it('quotes paths a shell would split', () => {
    const hex = writeTmp('my image.hex', `${record(0, [1, 2, 3, 4])}\n${EOF_RECORD}\n`);
    expect(planFlash({ port: '/dev/ttyUSB0', hex, board: 'uno' }).command).toBe(`avrdude -c arduino -p m328p -P /dev/ttyUSB0 -b 115200 -D -U 'flash:w:${hex}:i'`);
  });

  it('joins the firmware command another module registered instead of making a second one', async () => {
    const program = new Command('gance').exitOverride();
    program.command('firmware').description('cooler firmware').command('build');
    await runCli(['firmware', 'flash', '--dry-run'], program);
    const groups = program.commands.filter((c) => c.name() === 'firmware');
    expect(groups).toHaveLength(1);
    expect(groups[0]!.commands.map((c) => c.name())).toEqual(['build', 'flash']);
  });
});

describe('real avrdude against a bootloader on a pty', () => {
  it('writes the committed image page by page and verifies it', async () => {
    const t = await ptyTarget(mkdtempSync(join(dir, 'pty-')));
    try {
      const r = await flashFirmware({ port: t.device, hex: DEFAULT_HEX, board: 'uno' });
      const want = hexBytes(readFileSync(DEFAULT_HEX, 'utf8'));
      expect(want.size).toBeGreaterThan(1000);
      for (const [addr, byte] of want) expect(t.target.flash[addr]).toBe(byte);
      expect(r.image.dataBytes).toBe(want.size);
      expect(t.target.pagesWritten).toBe(Math.ceil(r.image.size / 128));
      expect(t.target.commands).toContain(0x75); // read the signature first
      expect(t.target.commands).toContain(0x74); // then read back to verify
      expect(r.output).toMatch(/bytes of flash verified/);
    } finally {
      await t.close();
    }
  });

  it('refuses a chip that is not an ATmega328P (signature check by avrdude)', async () => {
    const t = await ptyTarget(mkdtempSync(join(dir, 'pty-')), [0x1e, 0x94, 0x06]); // ATmega168
    try {
      const err = await flashFirmware({ port: t.device, hex: DEFAULT_HEX, board: 'uno' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FlashError);
      expect((err as Error).message).toMatch(/avrdude failed \(exit 1\): the chip is not an ATmega328P/);
      expect(t.target.pagesWritten).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('flash errors', () => {
  const port = '/dev/null'; // a character device: the port checks pass where they should

  it('a missing image says how to build it', () => {
    expect(() => planFlash({ port, hex: join(dir, 'nope.hex'), board: 'nano' })).toThrow(/--hex: .*nope.hex not found \(build it with `gance firmware build`/);
  });

  it('a broken image names the line', () => {
    const good = record(0, [1, 2, 3, 4]);
    const badSum = `${good.slice(0, -2)}00`;
    expect(() => checkIntelHex(`${good}\n${badSum}\n${EOF_RECORD}\n`, 'f.hex')).toThrow('f.hex:2: checksum mismatch');
    expect(() => checkIntelHex(`${good}\nhello\n${EOF_RECORD}`, 'f.hex')).toThrow("f.hex:2: not an Intel HEX record (expected ':' and hex byte pairs)");
    expect(() => checkIntelHex(`${good}\n`, 'f.hex')).toThrow('f.hex: no end-of-file record (truncated image?)');
    expect(() => checkIntelHex(`${EOF_RECORD}\n`, 'f.hex')).toThrow('f.hex: holds no data');
    expect(() => checkIntelHex(`:0400000001020304\n${EOF_RECORD}`, 'f.hex')).toThrow('f.hex:1: record says 4 data bytes but has 3');
  });

  it('an image too big for the bootloader is refused before anything runs', () => {
    const hex = writeTmp('big.hex', `${record(0x7900, [1, 2, 3, 4])}\n${EOF_RECORD}\n`);
    expect(() => planFlash({ port, hex, board: 'nano-old' })).toThrow(/needs 30980 bytes of flash; a nano-old leaves 30720 beside its bootloader/);
    expect(planFlash({ port, hex, board: 'uno' }).image.size).toBe(30980);
  });

  it('a path avrdude cannot take', () => {
    expect(() => planFlash({ port, hex: '/tmp/a:b.hex', board: 'uno' })).toThrow("the path must not contain ':'");
  });

  it('a missing port, a port that is not a device, and a missing avrdude', async () => {
    await expect(flashFirmware({ port: join(dir, 'ttyNONE'), hex: DEFAULT_HEX, board: 'uno' })).rejects.toThrow(/--path: serial port .*ttyNONE not found: is the board plugged in\?/);
    const plain = writeTmp('not-a-tty', '');
    await expect(flashFirmware({ port: plain, hex: DEFAULT_HEX, board: 'uno' })).rejects.toThrow(/is not a serial device/);
    await expect(flashFirmware({ port, hex: DEFAULT_HEX, board: 'uno', avrdude: join(dir, 'no-avrdude') })).rejects.toThrow(/--avrdude: .* is not an executable/);
    await expect(flashFirmware({ port, hex: DEFAULT_HEX, board: 'uno', avrdude: 'gance-no-such-avrdude' })).rejects.toThrow('avrdude not found on PATH: install it (Debian/Ubuntu: apt-get install avrdude)');
    expect(findExecutable('avrdude', '/nonexistent')).toBeNull();
  });

  it('a bootloader that does not answer gets the baud-rate hint (avrdude stand-in printing its real message)', async () => {
    const fake = writeTmp('avrdude-nosync', '#!/bin/sh\necho "avrdude warning: attempt 10 of 10: not in sync: resp=0x00" >&2\necho "avrdude error: unable to open programmer arduino on port $6" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const err = (await flashFirmware({ port, hex: DEFAULT_HEX, board: 'nano', avrdude: fake }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('avrdude failed (exit 1): the bootloader did not answer at 115200 baud: try --board nano-old');
    expect(err.message).toContain('unable to open programmer arduino on port /dev/null'); // the tail of avrdude's output
  });

  it('the CLI surfaces the error (the entry point prints it and exits non-zero)', async () => {
    await expect(runCli(['firmware', 'flash', '--hex', join(dir, 'nope.hex'), '--path', port])).rejects.toThrow(/--hex: .* not found/);
  });
});
