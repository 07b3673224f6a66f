/**
 * The committed image is what the sources build to (CI fails otherwise), and the build is
 * reproducible: two builds in different directories give the same bytes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIntelHex } from '../../test/helpers/avr/hex.ts';

const FIRMWARE = fileURLToPath(new URL('../../firmware', import.meta.url));
const dirs: string[] = [];
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gance-fw-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function copyFirmware(): string {
  const d = scratch();
  cpSync(join(FIRMWARE, 'src'), join(d, 'src'), { recursive: true });
  cpSync(join(FIRMWARE, 'Makefile'), join(d, 'Makefile'));
  cpSync(join(FIRMWARE, 'dist'), join(d, 'dist'), { recursive: true });
  return d;
}

describe('firmware build', () => {
  it('make check: dist/cooler.hex matches a fresh build of src/', () => {
    const out = execFileSync('make', ['-s', '-C', FIRMWARE, 'check'], { encoding: 'utf8' });
    expect(out).toMatch(/matches the sources/);
  });

  it('builds the same bytes in another directory (no paths or dates in the image)', () => {
    const d = copyFirmware();
    execFileSync('make', ['-s', '-C', d, 'BUILD=out'], { stdio: 'ignore' });
    expect(readFileSync(join(d, 'out/cooler.hex'), 'utf8')).toBe(readFileSync(join(FIRMWARE, 'dist/cooler.hex'), 'utf8'));
  });

  it('make check fails when the sources no longer match the committed image', () => {
    const d = copyFirmware();
    const cfg = join(d, 'src/config.h');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('DEFAULT_WATCHDOG_MS 3000U', 'DEFAULT_WATCHDOG_MS 3001U'));
    const r = spawnSync('make', ['-s', '-C', d, 'check'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/differs from a fresh build/);
  });

  it('fits the ATmega328P with room for a bootloader', () => {
    const flash = parseIntelHex(readFileSync(join(FIRMWARE, 'dist/cooler.hex'), 'utf8'));
    let last = flash.length - 1;
    while (last > 0 && flash[last] === 0xff) last--;
    expect(last + 1).toBeLessThan(0x8000 - 0x800); // 30 KiB: optiboot needs the top 512 B, the old one 2 KiB
  });
});
