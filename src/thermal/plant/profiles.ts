/**
 * Load profiles: GPU power over time, piecewise constant, plus the load hints a render pipeline
 * would send. Time is seconds from the profile's start.
 */

export interface LoadSegment {
  seconds: number;
  watts: number;
  /** GPU utilization 0..1 during the segment; default: from watts between idle and full */
  utilization?: number;
}

export interface LoadHint {
  /** profile time the hint is sent, s */
  at: number;
  /** expected power per GPU, W */
  watts: number;
  /** how long the hint is trusted, s */
  seconds: number;
}

export interface LoadProfile {
  readonly durationSeconds: number;
  /** power and utilization at profile time t (the last segment holds after the end) */
  at(t: number): { watts: number; utilization: number };
  readonly segments: ReadonlyArray<LoadSegment>;
  readonly hints: ReadonlyArray<LoadHint>;
}

const IDLE_W = 30;
const FULL_W = 150;

export function profile(segments: LoadSegment[], hints: LoadHint[] = []): LoadProfile {
  if (segments.length === 0) throw new Error('profile: needs at least one segment');
  segments.forEach((s, k) => {
    if (!(s.seconds > 0)) throw new Error(`profile: segments[${k}].seconds must be > 0, got ${s.seconds}`);
    if (!(s.watts >= 0)) throw new Error(`profile: segments[${k}].watts must be >= 0, got ${s.watts}`);
  });
  const starts: number[] = [];
  let t = 0;
  for (const s of segments) {
    starts.push(t);
    t += s.seconds;
  }
  const duration = t;
  const util = (s: LoadSegment) => s.utilization ?? Math.max(0, Math.min(1, (s.watts - IDLE_W) / (FULL_W - IDLE_W)));
  return {
    durationSeconds: duration,
    segments,
    hints: [...hints].sort((a, b) => a.at - b.at),
    at(time) {
      // Binary search: profiles are long and `at` runs every plant step.
      let lo = 0;
      let hi = segments.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= time) lo = mid;
        else hi = mid - 1;
      }
      const s = segments[lo]!;
      return { watts: s.watts, utilization: util(s) };
    },
  };
}

export function constant(watts: number, seconds = 3600): LoadProfile {
  return profile([{ seconds, watts }]);
}

/** Alternating on/off segments filling `seconds`. */
export function bursts(onSeconds: number, onWatts: number, offSeconds: number, offWatts: number, seconds: number): LoadSegment[] {
  const out: LoadSegment[] = [];
  let left = seconds;
  while (left > 1e-9) {
    const on = Math.min(onSeconds, left);
    out.push({ seconds: on, watts: onWatts });
    left -= on;
    if (left <= 1e-9) break;
    const off = Math.min(offSeconds, left);
    out.push({ seconds: off, watts: offWatts });
    left -= off;
  }
  return out;
}

/**
 * The benchmark profile of issue 3, for one K80-like GPU: idle (30 W) 120 s -> 150 W sustained
 * 600 s -> render bursts (20 s at 150 W, 20 s at 40 W) for 600 s -> idle 300 s.
 * Hints: the render job (t = 120 s) and the live session (t = 720 s) each announce 150 W for
 * 30 s when they start, at the same moment the power rises (no head start: a pipeline that loads
 * its network first would give one, but the benchmark does not assume it).
 */
export function standardBenchmarkProfile(): LoadProfile {
  return profile(
    [{ seconds: 120, watts: IDLE_W }, { seconds: 600, watts: FULL_W }, ...bursts(20, FULL_W, 20, 40, 600), { seconds: 300, watts: IDLE_W }],
    [
      { at: 120, watts: FULL_W, seconds: 30 },
      { at: 720, watts: FULL_W, seconds: 30 },
    ],
  );
}
