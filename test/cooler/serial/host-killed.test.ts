/**
 * The host process dies abruptly (SIGKILL: no failsafe command, no close): the firmware alone
 * must take the fans to full within its watchdog time.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { F_CPU, startSimulatedCooler, type SimulatedCooler } from '../../../test/helpers/avr/index.ts';
import { eventually } from './setup.ts';

let board: SimulatedCooler;
beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
}, 30_000);
afterAll(async () => board?.stop());

it('reaches full fans within the 3 s watchdog after the host is SIGKILLed', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/host.ts', import.meta.url));
  const host = spawn(process.execPath, ['--import', 'tsx', fixture, board.path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => host.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    host.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    host.once('exit', (code) => reject(new Error(`host exited early (${code})`)));
  });
  await eventually(() => board.sim.pwm(0).duty < 0.35 && board.sim.pwm(2).duty < 0.35, 5000, 'host duties applied');
  // a healthy host keeps it there (its keep-alive and 2 Hz set-duty)
  const healthyFrom = board.sim.seconds;
  await eventually(() => board.sim.seconds - healthyFrom > 1, 10_000, '1 s of simulated time');
  expect(board.sim.pwm(0).duty).toBeCloseTo(0.3, 2);

  host.kill('SIGKILL');
  await exited;
  const killedAt = board.sim.cycles;
  await eventually(() => board.sim.duties().every((d) => d === 1), 20_000, 'all fans at 100%');
  const simMs = ((board.sim.cycles - killedAt) / F_CPU) * 1000;
  // the last frame reached the device at most one 500 ms host tick before the kill
  expect(simMs).toBeLessThanOrEqual(3000 + 50);
  expect(simMs).toBeGreaterThan(3000 - 600);
  expect(board.sim.duties()).toEqual([1, 1, 1, 1]);
}, 60_000);
