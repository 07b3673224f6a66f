/**
 * thermal.yield: what the daemon does when a zone's fans are at full and its GPUs still heat up
 * toward criticalCelsius: it slows the synthesis on those GPUs step by step (renders through the
 * per-GPU throttle, live sessions by a lower fps), pauses renders last, and where allowed lowers
 * the GPU power limit; it gives the speed back step by step once the zone has cooled.
 */
import { Type, type Static } from '@sinclair/typebox';

export const YieldConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'slow synthesis on a zone whose fans are at full and whose GPUs still near criticalCelsius' }),
    fullDuty: Type.Number({ minimum: 0.5, maximum: 1, default: 0.95, description: "share of the most the zone's fans will give (its maxDuty, or the duty its noise budget holds it at) at or above which they count as at full" }),
    startBelowCriticalC: Type.Number({ minimum: 0.5, maximum: 40, default: 6, description: 'yielding starts (or goes a step further) once the zone is within this many degrees of criticalCelsius, its fans at full and still rising' }),
    riseCPerMinute: Type.Number({ minimum: 0, maximum: 60, default: 1, description: 'the zone counts as rising while its temperature climbs faster than this: filtered over riseFilterSeconds for the first step, since the step last changed for a further one and the pause lead' }),
    riseFilterSeconds: Type.Number({ minimum: 0.5, maximum: 300, default: 10, description: 'time constant of the low-pass on the rise rate (whole-degree sensors)' }),
    steps: Type.Array(Type.Number({ minimum: 0, maximum: 0.99 }), {
      minItems: 1,
      maxItems: 8,
      default: [0.6, 0.35, 0],
      description: 'synthesis speed per yield step as a share of the speed before yielding; 0 pauses renders (live sessions go to their lowest fps instead); must fall step by step',
    }),
    stepSeconds: Type.Number({ minimum: 0, maximum: 600, default: 10, description: 'at least this long at a step before going further (a step takes that long to show in the temperature)' }),
    pauseAboveCriticalMinusC: Type.Number({ minimum: 0, maximum: 20, default: 1, description: 'within this many degrees of criticalCelsius the last step is taken at once, whatever the dwell' }),
    pauseLeadSeconds: Type.Number({
      minimum: 0,
      maximum: 60,
      default: 2,
      description:
        'while yielding, the last step is also taken at once (whatever the dwell) when the zone, rising at its rate since the step last changed, would be within pauseAboveCriticalMinusC of criticalCelsius this many seconds on: what a pause takes to show (a sensor reading, a control tick, the batch in flight), so a fast-rising zone is paused before critical rather than at it',
    }),
    releaseBelowCriticalC: Type.Number({ minimum: 1, maximum: 60, default: 12, description: 'a step is given back once the zone has stayed this many degrees (or more) under criticalCelsius for releaseSeconds: below the start threshold, so the zone cannot pump' }),
    releaseSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 20, description: 'how long the zone must stay cool before each step back' }),
    live: Type.Boolean({ default: true, description: 'live sessions lower their fps by the same share (they never pause)' }),
    powerLimit: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description:
            'also lower the GPU power limit with `nvidia-smi -i N -pl W` while yielding, and restore the default limit on recovery and at stop. nvidia-smi -pl requires root: run the daemon as root, or list a sudo rule in `command`',
        }),
        share: Type.Number({ minimum: 0.1, maximum: 1, default: 0.7, description: "power limit while yielding, as a share of the GPU's default limit (raised to its minimum limit)" }),
        command: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
          minItems: 1,
          maxItems: 8,
          default: ['nvidia-smi'],
          description: 'how nvidia-smi is run for -pl (the default runs thermal.sensors.nvidiaSmiPath), e.g. [sudo, -n, /usr/bin/nvidia-smi] with a sudoers rule allowing exactly that',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type YieldConfig = Static<typeof YieldConfig>;

/** Rules across the yield fields (thermal.yield.*), for rules.ts. */
export function yieldIssues(y: YieldConfig): string[] {
  const issues: string[] = [];
  for (let k = 1; k < y.steps.length; k++) {
    if (!(y.steps[k]! < y.steps[k - 1]!)) issues.push(`yield.steps[${k}]: must be below the step before (${y.steps[k - 1]}), got ${y.steps[k]}`);
  }
  if (!(y.releaseBelowCriticalC > y.startBelowCriticalC)) {
    issues.push(`yield.releaseBelowCriticalC: must be above yield.startBelowCriticalC (${y.startBelowCriticalC}) so a zone cannot pump between yielding and not, got ${y.releaseBelowCriticalC}`);
  }
  if (!(y.pauseAboveCriticalMinusC < y.startBelowCriticalC)) {
    issues.push(`yield.pauseAboveCriticalMinusC: must be below yield.startBelowCriticalC (${y.startBelowCriticalC}), got ${y.pauseAboveCriticalMinusC}`);
  }
  return issues;
}
