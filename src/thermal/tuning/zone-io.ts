/**
 * What a tuning experiment (step, relay) needs from a zone: read its temperature and fans, hold a
 * zone duty, wait, and put the fans to full when something goes wrong. Two implementations: the
 * plant simulator in simulated time (plantZoneIo, no real sleeping) and a running daemon through
 * its API (daemon-io.ts).
 */
import type { Plant } from '../plant/index.ts';

export interface ZoneSample {
  /** seconds on the experiment's clock */
  t: number;
  /** zone temperature as its sensors read it, C (null: no reading) */
  temperature: number | null;
  /** zone duty commanded, 0..1 */
  duty: number;
  /** mean tach of the zone fans, rpm (null: none reads) */
  rpm: number | null;
}

export interface ZoneIo {
  /** seconds between samples the experiment should take */
  readonly periodS: number;
  /** a reading resolution of the temperature, C (nvidia-smi: 1) */
  readonly resolutionC: number;
  sample(): Promise<ZoneSample>;
  /** the zone's fans to this share of full airflow */
  setDuty(duty: number): Promise<void>;
  wait(seconds: number): Promise<void>;
  /** every zone fan to full now (never throws) */
  failsafe(reason: string): Promise<void>;
}

/** The experiment stopped for safety: the fans were put to full. */
export class TuningAbortedError extends Error {
  override name = 'TuningAbortedError';
  constructor(
    message: string,
    /** samples recorded up to the abort */
    readonly samples: ZoneSample[] = [],
  ) {
    super(message);
  }
}

export interface PlantZoneIoOptions {
  plant: Plant;
  gpus: number[];
  fans: string[];
  /** s; default 0.5 (nvidia-smi's usual interval) */
  periodS?: number;
  /** whole degrees like nvidia-smi by default; 0: exact */
  resolutionC?: number;
  aggregate?: 'max' | 'mean';
  /** duty that starts a stopped fan; a stopped fan is kicked at full for 1 s (the daemon's kick-start) */
  startDuty?: number;
}

/** The zone on the plant simulator, in simulated time: wait() steps the model. */
export function plantZoneIo(o: PlantZoneIoOptions): ZoneIo & { readonly time: number } {
  const res = o.resolutionC ?? 1;
  const t0 = o.plant.time;
  let duty = 0;
  const read = () => {
    const temps = o.gpus.map((g) => o.plant.gpu(g).temperatureC);
    const raw = (o.aggregate ?? 'max') === 'max' ? Math.max(...temps) : temps.reduce((s, x) => s + x, 0) / temps.length;
    return res > 0 ? Math.round(raw / res) * res : raw;
  };
  return {
    periodS: o.periodS ?? 0.5,
    resolutionC: res,
    get time() {
      return o.plant.time - t0;
    },
    async sample() {
      const rpms = o.fans.map((f) => o.plant.fan(f).rpm).filter((r): r is number => r !== null);
      return { t: o.plant.time - t0, temperature: read(), duty, rpm: rpms.length ? rpms.reduce((s, r) => s + r, 0) / rpms.length : null };
    },
    async setDuty(d) {
      duty = Math.max(0, Math.min(1, d));
      const stopped = o.fans.filter((f) => o.plant.fan(f).trueRpm < 1);
      if (duty > 0 && stopped.length && duty < (o.startDuty ?? 0.5)) {
        for (const f of stopped) o.plant.setDuty(f, 1);
        o.plant.step(1);
      }
      for (const f of o.fans) o.plant.setDuty(f, duty);
    },
    async wait(seconds) {
      o.plant.step(seconds);
    },
    async failsafe() {
      duty = 1;
      for (const f of o.fans) o.plant.setDuty(f, 1);
    },
  };
}
