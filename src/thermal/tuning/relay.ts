/**
 * Relay autotune (Astrom-Hagglund): the zone duty switches between bias + d and bias - d as the
 * temperature crosses the setpoint (with hysteresis eps), which makes the loop oscillate at its
 * ultimate period Pu with amplitude a; then Ku = 4d / (pi sqrt(a^2 - eps^2)) (REFERENCE.md 4;
 * 4d / (pi a) without hysteresis). Cooling is reverse acting: hotter than the setpoint -> high duty.
 *
 * The bias is corrected every cycle to the mean duty of the last one (an unbalanced relay gives a
 * skewed oscillation and a wrong Ku). The excursion is bounded: once the temperature has crossed
 * the setpoint, a reading more than maxExcursionC from it stops the run with the fans at full,
 * and so does any reading above abortAboveC (the safety limit), at any time.
 */
import { guardedSample, withFailsafe } from './step.ts';
import { TuningAbortedError, type ZoneIo, type ZoneSample } from './zone-io.ts';

export interface RelayOptions {
  setpointC: number;
  /** starting bias duty (a step fit gives it: the duty that holds the setpoint) */
  biasDuty: number;
  /** relay amplitude d, duty (default 0.15) */
  amplitude?: number;
  /** hysteresis eps, C (default half the sensor resolution, at least 0.25) */
  hysteresisC?: number;
  /** once oscillating, a reading this far from the setpoint aborts (default 4 C) */
  maxExcursionC: number;
  /** any reading above this aborts, C */
  abortAboveC: number;
  /** cycles measured after the first two are dropped (default 4) */
  cycles?: number;
  /** gives up (fans to full, error) after this long, s (default 3600) */
  maxSeconds?: number;
  minDuty?: number;
  onSample?: (s: ZoneSample, high: boolean) => void;
}

export interface RelayCycle {
  startS: number;
  periodS: number;
  maxC: number;
  minC: number;
  meanDuty: number;
}

export interface RelayResult {
  /** ultimate gain, duty per C */
  ku: number;
  /** ultimate period, s */
  pu: number;
  /** oscillation amplitude (half peak to peak), C */
  amplitudeC: number;
  relayAmplitude: number;
  hysteresisC: number;
  /** the bias at the end (the duty that holds the setpoint) */
  biasDuty: number;
  cycles: RelayCycle[];
  samples: ZoneSample[];
}

export function runRelay(io: ZoneIo, o: RelayOptions): Promise<RelayResult> {
  const d = o.amplitude ?? 0.15;
  const eps = o.hysteresisC ?? Math.max(0.25, io.resolutionC / 2);
  const want = o.cycles ?? 4;
  const maxS = o.maxSeconds ?? 3600;
  const lo = Math.max(o.minDuty ?? 0.2, d);
  const hi = 1 - d;
  if (!(d > 0 && d <= 0.4)) throw new RangeError(`amplitude must be within 0..0.4, got ${d}`);
  if (!(lo <= hi)) throw new RangeError(`amplitude ${d} leaves no room for a bias between the minimum duty and full`);
  if (!(o.maxExcursionC > eps)) throw new RangeError(`maxExcursionC (${o.maxExcursionC}) must exceed the hysteresis (${eps})`);
  if (!(o.abortAboveC > o.setpointC)) throw new RangeError(`abortAboveC (${o.abortAboveC}) must be above the setpoint (${o.setpointC})`);
  return withFailsafe(io, async () => {
    const samples: ZoneSample[] = [];
    let bias = Math.min(hi, Math.max(lo, o.biasDuty));
    const first = await guardedSample(io, samples, o.abortAboveC);
    let high = first.temperature! > o.setpointC;
    await io.setDuty(bias + (high ? d : -d));
    const start = first.t;
    let crossed = false;
    const cycles: RelayCycle[] = [];
    /** start of the current cycle (a switch to high), and its running figures */
    let cycle: { startS: number; maxC: number; minC: number; dutyArea: number; lastT: number } | null = null;
    for (;;) {
      await io.wait(io.periodS);
      const s = await guardedSample(io, samples, o.abortAboveC);
      const t = s.temperature!;
      o.onSample?.(s, high);
      if (crossed && Math.abs(t - o.setpointC) > o.maxExcursionC) {
        await io.failsafe('relay excursion');
        throw new TuningAbortedError(
          `the relay oscillation reached ${t} C, more than ${o.maxExcursionC} C from the setpoint ${o.setpointC} C: fans to full, autotune stopped (try a smaller --amplitude)`,
          samples,
        );
      }
      if (s.t - start > maxS) throw new Error(`no steady relay oscillation within ${maxS} s (${cycles.length} cycles)`);
      if (cycle) {
        cycle.maxC = Math.max(cycle.maxC, t);
        cycle.minC = Math.min(cycle.minC, t);
        cycle.dutyArea += s.duty * (s.t - cycle.lastT);
        cycle.lastT = s.t;
      }
      const switchHigh = !high && t >= o.setpointC + eps;
      const switchLow = high && t <= o.setpointC - eps;
      if (!switchHigh && !switchLow) continue;
      crossed = true;
      high = switchHigh;
      if (switchHigh) {
        if (cycle) {
          const period = s.t - cycle.startS;
          const c = { startS: cycle.startS, periodS: period, maxC: cycle.maxC, minC: cycle.minC, meanDuty: cycle.dutyArea / period };
          cycles.push(c);
          // The mean duty over a cycle is the duty that balances the heat: the next bias.
          bias = Math.min(hi, Math.max(lo, c.meanDuty));
        }
        cycle = { startS: s.t, maxC: t, minC: t, dutyArea: 0, lastT: s.t };
        if (cycles.length >= want + 2) break;
      }
      await io.setDuty(bias + (high ? d : -d));
    }
    const used = cycles.slice(2);
    const pu = used.reduce((x, c) => x + c.periodS, 0) / used.length;
    const a = used.reduce((x, c) => x + (c.maxC - c.minC) / 2, 0) / used.length;
    const ku = a > eps * 1.05 ? (4 * d) / (Math.PI * Math.sqrt(a * a - eps * eps)) : (4 * d) / (Math.PI * a);
    await io.setDuty(bias);
    return { ku, pu, amplitudeC: a, relayAmplitude: d, hysteresisC: eps, biasDuty: bias, cycles, samples };
  });
}
