/**
 * The firmware image in avr8js: what it drives on the four fan outputs at power-on and after
 * SET_DUTY, read from the timer registers and measured on the pins.
 */
import { describe, expect, it } from 'vitest';
import { CoolerSim } from '../../test/helpers/avr/sim.ts';
import { bootSim } from '../../test/helpers/avr/sim-client.ts';
import { Command, decodeHello, decodeState, encodeSetDuty } from '../../src/cooler/protocol/messages.ts';

describe('firmware PWM outputs', () => {
  it('drives every fan full from reset until the host speaks', () => {
    const sim = new CoolerSim();
    // before the first instruction the pins are inputs: the fans' own pull-ups mean 100%
    for (let ch = 0; ch < 4; ch++) expect(sim.pwm(ch)).toMatchObject({ output: false, duty: 1 });
    sim.runMs(1);
    for (let ch = 0; ch < 4; ch++) expect(sim.pwm(ch)).toMatchObject({ output: true, connected: false, duty: 1 });
    const client = bootSim(sim, 1500);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
    const state = decodeState(client.request(Command.getState));
    expect(state.mode).toBe('boot');
    expect(state.fans.map((f) => f.applied)).toEqual([1, 1, 1, 1]);
    // talking (HELLO, GET_STATE) is not taking control: still full
    decodeHello(client.request(Command.hello, Buffer.from([1])));
    sim.runMs(100);
    expect(sim.duties()).toEqual([1, 1, 1, 1]);
  });

  it('blinks the LED slowly while waiting for the host, steady once it is in control', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    const seen = new Set<boolean>();
    for (let i = 0; i < 14; i++) {
      sim.runMs(100);
      seen.add(sim.led);
    }
    expect([...seen].sort()).toEqual([false, true]);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.5 }]));
    const levels = new Set<boolean>();
    for (let i = 0; i < 10; i++) {
      sim.runMs(100);
      levels.add(sim.led);
      client.request(Command.getState);
    }
    expect([...levels]).toEqual([true]);
  });

  // duty -> [Timer1 channels: OCR or static level], [Timer0/2 channels: OCR or static level]
  const table: Array<[number, number | 'low' | 'high', number | 'low' | 'high']> = [
    [0, 'low', 'low'],
    [0.003, 1, 'low'], // 0.96 of 320 steps rounds to 1; 0.24 of 80 rounds to 0
    [0.25, 80, 19],
    [0.5, 160, 39],
    [0.7777, 249, 61],
    [0.999, 'high', 'high'],
    [1, 'high', 'high'],
  ];

  it.each(table)('duty %f sets the compare registers (T1 %s, T0/T2 %s)', (duty, t1, t02) => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    const reply = decodeState(client.request(Command.setDuty, encodeSetDuty([0, 1, 2, 3].map((channel) => ({ channel, duty })))));
    expect(reply.mode).toBe('run');
    sim.runMs(2);
    for (const [ch, expected] of [[0, t1], [1, t1], [2, t02], [3, t02]] as const) {
      const p = sim.pwm(ch);
      if (expected === 'low' || expected === 'high') {
        expect(p.connected, `channel ${ch}`).toBe(false);
        expect(p.duty, `channel ${ch}`).toBe(expected === 'high' ? 1 : 0);
      } else {
        expect(p.connected, `channel ${ch}`).toBe(true);
        expect(p.ocr, `channel ${ch}`).toBe(expected);
      }
      // the device reports what it really drives, quantized to its timer's steps
      expect(reply.fans[ch]!.applied).toBeCloseTo(p.duty, 3);
      expect(reply.fans[ch]!.target).toBeCloseTo(duty, 4);
    }
    expect(sim.pwm(0).top).toBe(320);
    expect(sim.pwm(2).top).toBe(79);
  });

  it('produces 25 kHz on all four pins with the commanded duty', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([{ channel: 0, duty: 0.3 }, { channel: 1, duty: 0.6 }, { channel: 2, duty: 0.4 }, { channel: 3, duty: 0.75 }]));
    sim.runMs(1);
    const wanted = [0.3, 0.6, 0.4, 0.75];
    for (let ch = 0; ch < 4; ch++) {
      const m = sim.measurePwm(ch, 2);
      expect(m.frequencyHz, `channel ${ch}`).toBeGreaterThan(25_000 * 0.999);
      expect(m.frequencyHz, `channel ${ch}`).toBeLessThan(25_000 * 1.001);
      // avr8js switches fast-PWM outputs one count early (duty OCR/(TOP+1) instead of the
      // datasheet's (OCR+1)/(TOP+1)), hence one step of 1/80 of slack on Timer0/2
      const slack = ch < 2 ? 1 / 320 + 0.002 : 2 / 80;
      expect(Math.abs(m.duty - wanted[ch]!), `channel ${ch} duty ${m.duty}`).toBeLessThan(slack);
    }
  });

  it('applies a SET_DUTY for some channels without touching the others', () => {
    const sim = new CoolerSim();
    const client = bootSim(sim);
    client.request(Command.setDuty, encodeSetDuty([0, 1, 2, 3].map((channel) => ({ channel, duty: 0.6 }))));
    client.request(Command.setDuty, encodeSetDuty([{ channel: 2, duty: 0.8 }]));
    sim.runMs(1);
    expect(sim.duties().map((d) => Math.round(d * 100) / 100)).toEqual([0.6, 0.6, 0.8, 0.6]);
  });
});
