/**
 * Benchmark of the simulated cooler (run: node --import tsx test/helpers/avr/measure.ts; not part
 * of `npm test`). Prints the figures the tests rely on; the last line is one JSON object:
 *   - simulation speed: simulated seconds per wall second, batched vs exact timers (same run)
 *   - PWM frequency and duty measured on the pins
 *   - rpm accuracy over a range of tach speeds
 *   - request round trip through serialport + socat pty + realtime sim, and the realtime ratio
 */
import { Registry } from 'prom-client';
import pino from 'pino';
import { Command, decodeState, encodeSetDuty } from '../../../src/cooler/protocol/messages.ts';
import { createSerialCooler } from '../../../src/cooler/serial/index.ts';
import { startSimulatedCooler, warmUpSimulator } from './index.ts';
import { bootSim } from './sim-client.ts';
import { CoolerSim } from './sim.ts';

function speed(timing: 'fast' | 'exact', seconds: number): number {
  const sim = new CoolerSim();
  sim.timing = timing;
  const client = bootSim(sim);
  client.request(Command.setDuty, encodeSetDuty([0, 1, 2, 3].map((channel) => ({ channel, duty: 0.5 }))));
  const t0 = performance.now();
  for (let i = 0; i < seconds * 10; i++) {
    sim.runMs(100);
    if (i % 5 === 0) client.request(Command.getState);
  }
  return seconds / ((performance.now() - t0) / 1000);
}

warmUpSimulator();
const fast = speed('fast', 5);
const exact = speed('exact', 1);
console.log(`simulation speed: ${fast.toFixed(2)}x real time with batched timers, ${exact.toFixed(2)}x with every timer tick (ratio ${(fast / exact).toFixed(1)})`);

const pwmSim = new CoolerSim();
const pwmClient = bootSim(pwmSim);
pwmClient.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.3 }, { channel: 1, duty: 0.5 }, { channel: 2, duty: 0.4 }, { channel: 3, duty: 0.75 }]));
pwmSim.runMs(1);
const pwm = [0, 1, 2, 3].map((ch) => pwmSim.measurePwm(ch, 4));
pwm.forEach((m, ch) => console.log(`PWM channel ${ch}: ${m.frequencyHz.toFixed(1)} Hz, duty ${(m.duty * 100).toFixed(2)}% (${m.edges} periods)`));

const rpmSim = new CoolerSim({ fans: [{}, {}, {}, {}] });
const rpmClient = bootSim(rpmSim);
const speeds = [300, 1200, 3000, 5000, 7500, 9500, 14000, 20000];
const rpmErrors: number[] = [];
for (const rpm of speeds) {
  [0, 1, 2, 3].forEach((ch) => rpmSim.setRpm(ch, rpm * (1 + ch * 0.013)));
  rpmSim.runMs(rpm < 1000 ? 2600 : 1600);
  const got = decodeState(rpmClient.request(Command.getState)).fans.map((f) => f.rpm ?? 0);
  got.forEach((g, ch) => rpmErrors.push(Math.abs(g - rpm * (1 + ch * 0.013)) / (rpm * (1 + ch * 0.013))));
  console.log(`rpm ${rpm}: read ${got.join(', ')}`);
}
const maxRpmError = Math.max(...rpmErrors);
console.log(`rpm: worst relative error ${(maxRpmError * 100).toFixed(3)}% over ${rpmErrors.length} readings`);

const board = await startSimulatedCooler({ fans: 4 });
const cooler = createSerialCooler(
  { driver: 'serial', path: board.path, baudRate: 115200, watchdogSeconds: 3, failsafeDuty: 1, fans: [{ id: 'a', channel: 0, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }], thermistors: [] },
  { log: pino({ level: 'silent' }), registry: new Registry() },
);
const openT0 = performance.now();
await cooler.open();
const openMs = performance.now() - openT0;
const lat: number[] = [];
for (let i = 0; i < 100; i++) {
  const t = performance.now();
  await cooler.setDuties({ a: 0.3 + (i % 5) * 0.1 });
  lat.push(performance.now() - t);
}
lat.sort((x, y) => x - y);
const stats = board.runner.stats;
await cooler.close();
await board.stop();
console.log(`serial over pty: open+handshake ${openMs.toFixed(0)} ms; setDuties round trip median ${lat[50]!.toFixed(1)} ms, p95 ${lat[95]!.toFixed(1)} ms`);
console.log(`realtime runner: ${stats.ratio.toFixed(3)} simulated s per wall s, max lag ${stats.maxLagMs.toFixed(0)} ms, slipped ${stats.slippedMs.toFixed(0)} ms over ${stats.wallSeconds.toFixed(1)} s`);
console.log(
  JSON.stringify({
    simSpeedFast: +fast.toFixed(2),
    simSpeedExact: +exact.toFixed(2),
    pwmHz: pwm.map((m) => +m.frequencyHz.toFixed(1)),
    pwmDuty: pwm.map((m) => +m.duty.toFixed(4)),
    rpmMaxRelError: +maxRpmError.toFixed(5),
    openMs: Math.round(openMs),
    rttMedianMs: +lat[50]!.toFixed(1),
    rttP95Ms: +lat[95]!.toFixed(1),
    realtimeRatio: +stats.ratio.toFixed(3),
    realtimeMaxLagMs: Math.round(stats.maxLagMs),
  }),
);
