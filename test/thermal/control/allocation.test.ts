import { describe, expect, it } from 'vitest';
import { createFanAllocator, fanNoiseDba, noiseEnergy, quietSplit, sumDba, type AllocFan } from '../../../src/thermal/control/allocation.ts';

const fan = (id: string, f: Partial<AllocFan> = {}): AllocFan => ({ id, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40, ...f });
const same = [fan('a'), fan('b'), fan('c')];
const mixed = [fan('big', { maxRpm: 12000, maxDba: 44, minDuty: 0.25 }), fan('quiet', { maxRpm: 5000, maxDba: 21.5, minDuty: 0.3 }), fan('mid', { maxRpm: 7500, maxDba: 26.5, minDuty: 0.2 })];
const flow = (fans: AllocFan[], d: Record<string, number>) => fans.reduce((s, f) => s + (d[f.id] ?? 0) * f.maxRpm, 0);
const total = (fans: AllocFan[]) => fans.reduce((s, f) => s + f.maxRpm, 0);

/** Every duty vector of three fans on a 0.01 grid that delivers at least the airflow: the quietest. */
function bruteForce3(fans: AllocFan[], zoneDuty: number): number {
  const need = zoneDuty * total(fans) - 1e-9;
  const grid = (f: AllocFan) => [0, ...Array.from({ length: 101 }, (_, k) => k / 100).filter((u) => u >= f.minDuty - 1e-12)];
  const [f0, f1, f2] = fans as [AllocFan, AllocFan, AllocFan];
  const [g0, g1, g2] = [grid(f0), grid(f1), grid(f2)];
  const a = fans.map((f) => 10 ** (f.maxDba / 10));
  let best = Infinity;
  for (const u0 of g0)
    for (const u1 of g1) {
      const partial = u0 * f0.maxRpm + u1 * f1.maxRpm;
      const e01 = a[0]! * u0 ** 5 + a[1]! * u1 ** 5;
      if (e01 >= best) continue;
      for (const u2 of g2) {
        if (partial + u2 * f2.maxRpm < need) continue;
        best = Math.min(best, e01 + a[2]! * u2 ** 5);
        break; // larger u2 only costs more
      }
    }
  return best;
}

describe('noise model', () => {
  it('follows L = Lmax + 50 log10(rpm/rpmMax) and sums as energy', () => {
    expect(fanNoiseDba(fan('a'), 1)).toBe(40);
    expect(fanNoiseDba(fan('a'), 0.5)).toBeCloseTo(40 - 15.05, 2);
    expect(fanNoiseDba(fan('a'), 0)).toBe(-Infinity);
    expect(sumDba([40, 40, 40])).toBeCloseTo(44.77, 2);
    expect(sumDba([-Infinity])).toBe(-Infinity);
  });
});

describe('quiet split', () => {
  it('delivers the zone airflow and is as quiet as a brute-force search (identical and mixed fans)', () => {
    for (const fans of [same, mixed]) {
      for (const d of [0.05, 0.1, 0.15, 0.3, 0.47, 0.66, 0.9, 1]) {
        const split = quietSplit(fans, d);
        expect(flow(fans, split)).toBeGreaterThanOrEqual(d * total(fans) - 1e-6);
        for (const f of fans) {
          const u = split[f.id]!;
          expect(u === 0 || (u >= f.minDuty - 1e-9 && u <= 1 + 1e-9)).toBe(true);
        }
        // the grid points are a subset of the feasible duties: the optimum can only be quieter
        expect(noiseEnergy(fans, split)).toBeLessThanOrEqual(bruteForce3(fans, d) * (1 + 1e-9));
      }
    }
  });

  it('spreads airflow over identical fans ("two slow fans beat one fast one")', () => {
    const s = quietSplit(same, 0.5);
    expect(s.a).toBeCloseTo(0.5, 6);
    expect(s.b).toBeCloseTo(0.5, 6);
    expect(s.c).toBeCloseTo(0.5, 6);
  });

  it('runs fewer fans when minimum duties make that quieter, and honours raised minimums', () => {
    // 0.1 of three fans' airflow = 0.3 of one: two fans at their 0.2 minimum (over-delivering)
    // are quieter than one at 0.3 or three at 0.2
    const low = quietSplit(same, 0.1);
    expect(Object.values(low).filter((u) => u > 0)).toEqual([0.2, 0.2]);
    // a fan whose minimum was raised to 0.6 is left out of a small demand
    const raised = quietSplit(same, 0.3, { minDuty: { a: 0.6 } });
    expect(raised.a).toBe(0);
    expect(raised.b).toBeCloseTo(0.45, 6);
  });

  it('keeps the running set unless another is quieter by the margin (no fan on/off flapping)', () => {
    const mins = [fan('a', { minDuty: 0.4 }), fan('b', { minDuty: 0.4 }), fan('c', { minDuty: 0.4 })];
    // demand 0.3 -> 0.9 fan-units: two fans at 0.45 or three at 0.4 (over-delivering)
    const free = quietSplit(mins, 0.3);
    const freeRunning = Object.values(free).filter((u) => u > 0).length;
    const sticky = quietSplit(mins, 0.3, { running: new Set(['a', 'b']), switchMarginDb: 3 });
    expect(Object.values(sticky).filter((u) => u > 0).length).toBe(2);
    expect(freeRunning).toBe(3);
  });

  it('stops every fan at zero duty', () => {
    expect(Object.values(quietSplit(same, 0))).toEqual([0, 0, 0]);
  });
});

describe('fan allocator: kick-start and stall handling', () => {
  const stall = { kickSeconds: 1, detectSeconds: 3, minDutyStep: 0.1 };

  it('kicks a stopped fan with its start duty for kickSeconds, then drops to its target', () => {
    const al = createFanAllocator(same, stall);
    const a0 = al.step(0, 0.25);
    expect(a0.fanDuties.a).toBe(0.5);
    expect(a0.fans.a!.kicking).toBe(true);
    const a1 = al.step(0.8, 0.25, { a: 2000, b: 2000, c: 2000 });
    expect(a1.fanDuties.a).toBe(0.5);
    const a2 = al.step(1.2, 0.25, { a: 2200, b: 2200, c: 2200 });
    expect(a2.fanDuties.a).toBeCloseTo(0.25, 6);
    expect(a2.fans.a!.kicking).toBe(false);
    // a running fan is not kicked again
    expect(al.step(5, 0.3, { a: 2700, b: 2700, c: 2700 }).fans.a!.kicking).toBe(false);
    // stopped and restarted: kicked again
    al.step(6, 0);
    expect(al.step(7, 0.3).fans.a!.kicking).toBe(true);
  });

  it('escalates a fan that reads 0 rpm while commanded: kick, then raise its minimum, then alarm', () => {
    const al = createFanAllocator(same, stall);
    const rpm = (a: number) => ({ a, b: 2500, c: 2500 });
    let t = 0;
    const run = (until: number, a: number) => {
      let last = al.step(t, 0.25, rpm(a));
      while (t < until - 1e-9) {
        t += 0.2;
        last = al.step(t, 0.25, rpm(a));
      }
      return last;
    };
    run(1, 0); // kick window
    let out = run(4.1, 0); // 3 s after the kick: first stall -> kicked again
    expect(out.fans.a!.stalls).toBe(1);
    expect(out.fans.a!.kicking).toBe(true);
    expect(out.alarms).toEqual([]);
    out = run(8.3, 0); // second stall: kick and minimum raised
    expect(out.fans.a!.stalls).toBe(2);
    expect(out.fans.a!.minDuty).toBeCloseTo(0.3, 6);
    expect(out.alarms).toEqual([]);
    out = run(12.5, 0); // third: alarm, full duty
    expect(out.alarms).toEqual(['fan-stalled:a']);
    expect(out.fanDuties.a).toBe(1);
    // the other fans carry the zone's airflow meanwhile
    expect(out.fanDuties.b! + out.fanDuties.c!).toBeCloseTo(0.75, 6);
    // it turns again: alarm clears, the raised minimum stays
    out = run(13, 9000);
    expect(out.alarms).toEqual([]);
    expect(al.minDuty().a).toBeCloseTo(0.3, 6);
  });

  it('leastShare: the least airflow while any fan turns is one fan at its minimum, and the zone duty of that share runs that fan alone', () => {
    const al = createFanAllocator(same, stall);
    expect(al.leastShare()).toBeCloseTo(0.2 / 3, 9);
    const out = al.step(0, al.leastShare());
    expect(Object.values(out.fanDuties).filter((d) => d > 0)).toHaveLength(1);
    // mixed fans: the one whose minimum moves the least air (mid: 0.2 x 7500 rpm of 24500)
    expect(createFanAllocator(mixed, stall).leastShare()).toBeCloseTo((0.2 * 7500) / total(mixed), 9);
  });

  it('leastShare follows a raised minimum and leaves out a stalled (alarmed) fan', () => {
    const al = createFanAllocator([fan('a', { minDuty: 0.1 }), fan('b'), fan('c')], stall);
    expect(al.leastShare()).toBeCloseTo(0.1 / 3, 9);
    let t = 0;
    // a reads 0 rpm while commanded: after two stalls its minimum is 0.2, after the third it is alarmed
    const run = (until: number) => {
      while (t < until - 1e-9) {
        al.step(t, 0.25, { a: 0, b: 2500, c: 2500 });
        t += 0.2;
      }
    };
    run(8.4);
    expect(al.minDuty().a).toBeCloseTo(0.2, 6);
    expect(al.leastShare()).toBeCloseTo(0.2 / 3, 9);
    run(12.6);
    expect(al.step(t, 0.25, { a: 0, b: 2500, c: 2500 }).alarms).toEqual(['fan-stalled:a']);
    expect(al.leastShare()).toBeCloseTo(0.2 / 3, 9);
    const lone = createFanAllocator([fan('a')], stall);
    for (let k = 0; k <= 70; k++) lone.step(k * 0.2, 0.5, { a: 0 });
    expect(lone.leastShare()).toBe(0);
  });

  it('never calls a fan without a tach stalled', () => {
    const al = createFanAllocator(same, stall);
    let out = al.step(0, 0.25, { a: null, b: null, c: null });
    for (let t = 0.2; t < 30; t += 0.2) out = al.step(t, 0.25, { a: null, b: null, c: null });
    expect(out.alarms).toEqual([]);
    expect(out.fans.a!.stalls).toBe(0);
  });
});
