/**
 * The plant model a zone's previews run on: the one identified by `gance thermal step|autotune
 * --url` (stored in stateDir/thermal-models.json), or, where none was identified, the one the
 * plant simulator implies at the zone's setpoint (K80 constants, REFERENCE.md 4):
 *   G* = P / (setpoint - ambient), x* from G(x*) = G*, K = dT/dx = -P G'(x*) / G*^2, tau = C / G*,
 *   theta = the fans' rpm lag + one sensor interval.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FAN_40MM, K80_GPU } from '../plant/index.ts';
import type { Fopdt } from './fopdt.ts';

export const ZoneModel = Type.Object(
  {
    gain: Type.Number({ minimum: -1e4, maximum: 1e4, description: 'C per unit duty (negative: more airflow, cooler)' }),
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
const checkFile = TypeCompiler.Compile(Type.Record(Type.String(), ZoneModel));

export async function loadModels(stateDir: string | undefined): Promise<Record<string, ZoneModel>> {
  if (!stateDir) return {};
  try {
    const data: unknown = JSON.parse(await readFile(join(stateDir, FILE), 'utf8'));
    return checkFile.Check(data) ? data : {};
  } catch {
    return {};
  }
}

export async function saveModel(stateDir: string, zone: string, model: ZoneModel): Promise<void> {
  const all = { ...(await loadModels(stateDir)), [zone]: model };
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(all, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
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
