/**
 * The plant model a zone's previews run on: the one identified by `gance thermal step|autotune
 * --url` (stored in stateDir/thermal-models.json), or, where none was identified, the one the
 * plant simulator implies at the zone's setpoint (K80 constants, REFERENCE.md 4):
 *   G* = P / (setpoint - ambient), x* from G(x*) = G*, K = dT/dx = -P G'(x*) / G*^2, tau = C / G*,
 *   theta = the fans' rpm lag + one sensor interval.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FAN_40MM, K80_GPU } from '../plant/index.ts';
import type { Fopdt } from './fopdt.ts';
import { writeFileAtomic } from '../service/atomic-file.ts';

export const ZoneModel = Type.Object(
  {
    // negative: more airflow cools; a gain of 0 or above is a failed fit, and previews on it were nonsense
    gain: Type.Number({ minimum: -1e4, exclusiveMaximum: 0, description: 'C per unit duty (negative: more airflow, cooler)' }),
    timeConstantS: Type.Number({ exclusiveMinimum: 0, maximum: 1e5 }),
    deadTimeS: Type.Number({ minimum: 0, maximum: 1e4 }),
    r2: Type.Optional(Type.Number({ minimum: -1e6, maximum: 1 })),
    rmsC: Type.Optional(Type.Number({ minimum: 0, maximum: 1e3 })),
    identifiedAt: Type.Optional(Type.String({ maxLength: 64 })),
    source: Type.Union([Type.Literal('identified'), Type.Literal('simulator')], { description: 'identified by a step/autotune, or implied by the plant simulator' }),
  },
  { additionalProperties: false },
);
export type ZoneModel = Static<typeof ZoneModel>;

const FILE = 'thermal-models.json';
const checkModel = TypeCompiler.Compile(ZoneModel);

export async function loadModels(stateDir: string | undefined): Promise<Record<string, ZoneModel>> {
  if (!stateDir) return {};
  try {
    const data: unknown = JSON.parse(await readFile(join(stateDir, FILE), 'utf8'));
    if (!data || typeof data !== 'object' || Array.isArray(data)) return {};
    // entry by entry: one that no longer passes (a positive gain stored before that was refused) is
    // left out alone, not every zone's model with it at the next save
    return Object.fromEntries(Object.entries(data).filter(([, m]) => checkModel.Check(m))) as Record<string, ZoneModel>;
  } catch {
    return {};
  }
}

/** per state file, the save in progress: each save reads the file, adds its zone and writes it */
const saving = new Map<string, Promise<void>>();

/**
 * Stores one zone's model beside the others. Saves of one file run one after the other: two PUTs
 * at once each read the file, added their zone and wrote what they had read (one zone lost,
 * answered 200), and both wrote one temp file name (the second rename found it gone: 500).
 */
export function saveModel(stateDir: string, zone: string, model: ZoneModel): Promise<void> {
  const path = resolve(stateDir, FILE);
  const next = (saving.get(path) ?? Promise.resolve()).then(async () => {
    const all = { ...(await loadModels(stateDir)), [zone]: model };
    await writeFileAtomic(path, `${JSON.stringify(all, null, 2)}\n`);
  });
  const settled = next.catch(() => {});
  saving.set(path, settled);
  // the map holds a file only while a save of it is pending
  void settled.then(() => {
    if (saving.get(path) === settled) saving.delete(path);
  });
  return next;
}

/** the simulator's model of a K80-like GPU held at `setpointC` with `watts` */
export function simulatorModel(setpointC: number, o: { watts?: number; ambientC?: number; sensorIntervalS?: number } = {}): Fopdt & { dutyAtSetpoint: number } {
  const p = o.watts ?? 150;
  const g = K80_GPU;
  const gStar = Math.max(g.conductanceStillWPerK * 1.05, Math.min(g.conductanceFullWPerK, p / Math.max(1, setpointC - (o.ambientC ?? 30))));
  const share = (gStar - g.conductanceStillWPerK) / (g.conductanceFullWPerK - g.conductanceStillWPerK);
  const x = Math.max(0.05, share ** (1 / g.airflowExponent));
  const dG = (g.conductanceFullWPerK - g.conductanceStillWPerK) * g.airflowExponent * x ** (g.airflowExponent - 1);
  return { gain: (-p * dG) / (gStar * gStar), timeConstantS: g.heatCapacityJPerK / gStar, deadTimeS: FAN_40MM.rpmTauSeconds + (o.sensorIntervalS ?? 0.5), dutyAtSetpoint: x };
}
