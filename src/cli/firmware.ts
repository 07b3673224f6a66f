/**
 * `gance firmware build|info`: build the cooler firmware with make, and ask a connected cooler
 * what it is and what it is doing. `flash` lives in firmware-flash.ts and joins the same group
 * (whichever module loads first creates it).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import {
  Command as Cmd,
  decodeCounters,
  decodeHello,
  decodeSettings,
  decodeState,
  encodeGetCounters,
  encodeHello,
  type DeviceCounters,
  type DeviceSettings,
  type DeviceState,
  type Hello,
} from '../cooler/protocol/messages.ts';

export const FIRMWARE_DIR = fileURLToPath(new URL('../../firmware', import.meta.url));

/** The `firmware` command group, created once whichever firmware module registers first. */
export function firmwareGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === 'firmware') ?? program.command('firmware').description('cooler firmware: build, flash, info');
}

/** Runs make in firmware/; resolves with its exit code, output streamed to ours. */
export function runMake(target: string, dir = FIRMWARE_DIR): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('make', ['-C', dir, target], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'ENOENT' ? 'make not found: install make, gcc-avr, avr-libc and binutils-avr (flashing firmware/dist/cooler.hex needs none of them)' : e.message)),
    );
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

export interface FirmwareInfo {
  path: string;
  hello: Hello;
  settings: DeviceSettings & { fromEeprom: boolean };
  state: DeviceState;
  counters: DeviceCounters;
}

/**
 * Asks the cooler at `path` everything it will tell; changes nothing on it (no SET_*: the watchdog
 * and failsafe settings are shown as stored, and the fans stay as they are).
 */
export async function queryFirmware(path: string, opts: { baudRate?: number; handshakeMs?: number } = {}): Promise<FirmwareInfo> {
  // serialport and prom-client load only when a cooler is queried, not for `--help`
  const [{ Registry }, { SerialLink }, { CoolerLinkMetrics }, { DEFAULT_BAUD_RATE }] = await Promise.all([
    import('prom-client'),
    import('../cooler/serial/link.ts'),
    import('../cooler/serial/metrics.ts'),
    import('../cooler/config.ts'),
  ]);
  const link = await SerialLink.open({
    path,
    baudRate: opts.baudRate ?? DEFAULT_BAUD_RATE.serial,
    metrics: new CoolerLinkMetrics(new Registry()),
    requestTimeoutMs: 300,
    retries: 2,
  });
  try {
    // Opening the port resets a Nano; its bootloader listens for a second or two first.
    const deadline = performance.now() + (opts.handshakeMs ?? 4000);
    let hello: Hello | null = null;
    let lastErr: unknown;
    while (!hello && performance.now() < deadline) {
      try {
        hello = decodeHello(await link.request(Cmd.hello, encodeHello(), { retries: 0 }));
      } catch (e) {
        lastErr = e;
        if (!link.isOpen) break;
      }
    }
    if (!hello) throw new Error(`${path}: no answer from the cooler firmware (${(lastErr as Error)?.message ?? 'closed'}); is it flashed (gance firmware flash) and is the daemon stopped?`);
    const settings = decodeSettings(await link.request(Cmd.getSettings));
    const state = decodeState(await link.request(Cmd.getState));
    const counters = decodeCounters(await link.request(Cmd.getCounters, encodeGetCounters()));
    return { path, hello, settings, state, counters };
  } finally {
    await link.close();
  }
}

const pct = (d: number): string => `${(d * 100).toFixed(d === 1 || d === 0 ? 0 : 1)}%`;

export function formatInfo(i: FirmwareInfo): string {
  const h = i.hello;
  const s = i.settings;
  const lines = [
    `cooler at ${i.path}`,
    `  firmware      ${h.name} ${h.firmwareVersion}, protocol ${h.protocolVersion}`,
    `  capabilities  ${h.capabilities.join(', ')}`,
    `  hardware      ${h.fanCount} fans (PWM ${h.pwmHz} Hz), ${h.thermistorCount} thermistors`,
    `  boots         ${h.boots} (last reset: ${h.resetCause.join(', ') || 'unknown'}), up ${(i.state.uptimeMs / 1000).toFixed(1)} s`,
    `  mode          ${i.state.mode}${i.state.mode === 'run' ? ` (failsafe in ${i.state.watchdogLeftMs} ms without the host)` : ''}`,
    `  watchdog      ${s.watchdogMs} ms -> failsafe duty ${pct(s.failsafeDuty)} (${s.fromEeprom ? 'from EEPROM' : 'defaults'})`,
    `  kick-start    ${s.kickMs > 0 ? `${pct(s.kickDuty)} for ${s.kickMs} ms` : 'off'}; 3-pin channels: ${[0, 1, 2, 3].filter((c) => s.threePinMask & (1 << c)).join(', ') || 'none'}`,
    '  fans',
    ...i.state.fans.map((f) => {
      const flags = [f.kicking && 'kicking', f.stalled && 'stalled', f.threePin && '3-pin', !f.tachSeen && 'no tach seen'].filter(Boolean);
      return `    ${f.channel}  target ${pct(f.target).padStart(6)}  applied ${pct(f.applied).padStart(6)}  ${f.rpm === null ? '   ? rpm' : `${String(f.rpm).padStart(5)} rpm`}${flags.length ? `  (${flags.join(', ')})` : ''}`;
    }),
    '  thermistors',
    ...i.state.thermistors.map((t) => `    ${t.channel}  ${t.celsius === null ? 'no reading (open/short)' : `${t.celsius.toFixed(2)} C`}  raw ${t.raw ?? '-'}`),
    '  counters',
    ...Object.entries(i.counters).map(([k, v]) => `    ${k.padEnd(16)} ${v}`),
  ];
  return `${lines.join('\n')}\n`;
}

async function pathFromConfig(file: string): Promise<{ path: string; baudRate: number }> {
  const [{ loadConfigFile }, { coolerBaudRate }] = await Promise.all([import('../config/load.ts'), import('../cooler/config.ts')]);
  const cooler = loadConfigFile(file).cooler;
  if (!cooler.path) throw new Error(`${file}: cooler.path is not set; pass --path`);
  return { path: cooler.path, baudRate: coolerBaudRate(cooler) };
}

export function register(program: Command): void {
  const firmware = firmwareGroup(program);

  firmware
    .command('build')
    .description('build the cooler firmware with make (avr-gcc); --dist updates firmware/dist/cooler.hex, --check verifies it')
    .option('--dist', 'copy the built image to firmware/dist/cooler.hex (commit it)')
    .option('--check', 'rebuild from scratch and fail if firmware/dist/cooler.hex differs from the sources')
    .action(async (opts: { dist?: boolean; check?: boolean }) => {
      const code = await runMake(opts.check ? 'check' : opts.dist ? 'dist' : 'all');
      if (code !== 0) throw new Error(`make ${opts.check ? 'check' : opts.dist ? 'dist' : 'all'} in ${FIRMWARE_DIR} failed (exit ${code})`);
    });

  firmware
    .command('info')
    .description('query a connected cooler: firmware version, capabilities, fans and rpm, thermistors, watchdog settings, counters (read-only; stop the daemon first: it holds the port)')
    .option('-p, --path <port>', 'serial port of the cooler (default: cooler.path of --config)')
    .option('-c, --config <file>', 'take the port and baud rate from this config file')
    .option('--baud <rate>', 'baud rate', (v) => Number.parseInt(v, 10))
    .option('--json', 'print JSON instead of text')
    .action(async (opts: { path?: string; config?: string; baud?: number; json?: boolean }) => {
      const fromConfig = opts.path ? null : opts.config ? await pathFromConfig(opts.config) : null;
      const path = opts.path ?? fromConfig?.path;
      if (!path) throw new Error('firmware info: pass --path <port> or --config <file> with cooler.path');
      const info = await queryFirmware(path, { baudRate: opts.baud ?? fromConfig?.baudRate });
      process.stdout.write(opts.json ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
    });
}
