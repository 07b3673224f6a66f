import { Type, type Static } from '@sinclair/typebox';

/**
 * thermal.music: music-aware cooling for renders and sets whose audio is known ahead. Defaults
 * describe this rig (a K80 GPU under a shroud with three 40 mm fans: src/thermal/plant/k80.ts);
 * set `model` for another heatsink.
 */
export const MusicConfig = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        "follow the loudness of the track a render (or a looped live file) announces: fans may be louder while the music is loud and stay under it in quiet passages, pre-cooling ahead of them; limits and failsafes still win",
    }),
    listenerDistanceMeters: Type.Number({ minimum: 0.1, maximum: 100, default: 1, description: "distance from the fans to the listener; the fans' levels are their data at 1 m (cooler.fans maxDba), less 20 log10(distance)" }),
    audibleBelowMusicDb: Type.Number({ minimum: 0, maximum: 40, default: 10, description: 'fan noise counts as audible while its level at the listener is above the music level there minus this' }),
    warmAboveSetpointCelsius: Type.Number({ minimum: 0, maximum: 10, default: 1, description: 'in quiet passages the die may warm this far above the setpoint before the fans may get audible (kept below criticalCelsius)' }),
    guardCelsius: Type.Number({ minimum: 0, maximum: 10, default: 1, description: 'the plan keeps the die this far under the ceiling (model error); reaching the ceiling itself puts the fans to full until the die is this plus 1 C under it' }),
    horizonSeconds: Type.Integer({ minimum: 10, maximum: 3600, default: 600, description: 'how far ahead in the track the plan looks' }),
    spinDownSeconds: Type.Number({ minimum: 0, maximum: 10, default: 5, description: 'fans slow down ahead of a quiet passage by this much: from full to their minimum a fan with a 1 s rpm lag needs about 4.5 s to come within 1 dB' }),
    preCoolTimeConstants: Type.Number({
      minimum: 0,
      maximum: 10,
      default: 1,
      description: "a load hint announced ahead of its load (startsInSeconds) starts the fans this many of the rig's thermal time constants (model, at full airflow) before the load",
    }),
    model: Type.Object(
      {
        heatCapacityJPerK: Type.Number({ exclusiveMinimum: 0, maximum: 1e6, default: 400, description: 'die + heatsink heat capacity' }),
        conductanceStillWPerK: Type.Number({ exclusiveMinimum: 0, maximum: 1e4, default: 0.8, description: 'to the air with the fans stopped' }),
        conductanceFullWPerK: Type.Number({ exclusiveMinimum: 0, maximum: 1e4, default: 4.3, description: 'to the air with the zone fans at full' }),
        airflowExponent: Type.Number({ exclusiveMinimum: 0, maximum: 2, default: 0.6, description: 'conductance grows with airflow share to this power' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type MusicConfig = Static<typeof MusicConfig>;
