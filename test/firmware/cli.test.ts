/** `gance firmware build|info` against the simulated cooler on a pty. */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/firmware.ts';
import { startSimulatedCooler, type SimulatedCooler } from '../../test/helpers/avr/index.ts';

let board: SimulatedCooler;
beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4, thermistorsCelsius: [31.5, null] });
}, 30_000);
afterAll(async () => board?.stop());

async function run(...args: string[]): Promise<string> {
  const program = new Command('gance').exitOverride();
  register(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  try {
    await program.parseAsync(['node', 'gance', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('gance firmware info', () => {
  it('reports version, capabilities, fans, thermistors, watchdog settings and counters as JSON', async () => {
    board.sim.setRpm(1, 4200);
    await board.runner.simDelay(1600); // a clean 500 ms tach window after the change
    const info = JSON.parse(await run('firmware', 'info', '--path', board.path, '--json'));
    expect(info.hello).toMatchObject({ name: 'gance-cooler', firmwareVersion: '1.1.0', protocolVersion: 1, fanCount: 4, thermistorCount: 2, pwmHz: 25000 });
    expect(info.hello.capabilities).toContain('hardwareWatchdog');
    expect(info.settings).toMatchObject({ watchdogMs: 3000, failsafeDuty: 1, fromEeprom: false });
    expect(info.state.fans).toHaveLength(4);
    expect(Math.abs(info.state.fans[1].rpm - 4200)).toBeLessThan(5);
    expect(info.state.thermistors[0].celsius).toBeCloseTo(31.5, 0);
    expect(info.state.thermistors[1].celsius).toBeNull();
    expect(info.counters.framesOk).toBeGreaterThanOrEqual(3);
    // read-only: the board is still in its power-on state, fans full
    expect(info.state.mode).toBe('boot');
    expect(board.sim.duties()).toEqual([1, 1, 1, 1]);
  }, 30_000);

  it('prints a readable summary', async () => {
    const text = await run('firmware', 'info', '--path', board.path);
    expect(text).toContain('firmware      gance-cooler 1.1.0, protocol 1');
    expect(text).toMatch(/watchdog\s+3000 ms -> failsafe duty 100% \(defaults\)/);
    expect(text).toMatch(/1 {2}target +100% {2}applied +100% +\d+ rpm/);
    expect(text).toContain('no reading (open/short)');
  }, 30_000);

  it('names the port when nothing answers there', async () => {
    await expect(run('firmware', 'info', '--path', '/tmp/gance-no-cooler-here')).rejects.toThrow(/gance-no-cooler-here/);
    await expect(run('firmware', 'info')).rejects.toThrow(/--path/);
  });
});

describe('gance firmware build', () => {
  it('--check rebuilds and confirms the committed image', async () => {
    await expect(run('firmware', 'build', '--check')).resolves.toBe('');
  }, 60_000);
});
