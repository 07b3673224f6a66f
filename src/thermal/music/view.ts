/** What GET /v1/thermal shows of a zone's noise budget. */
import { Type, type Static } from '@sinclair/typebox';
import type { MusicRouter } from './router.ts';

const num = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

export const MusicView = Type.Union(
  [
    Type.Object(
      {
        enabled: Type.Boolean({ description: 'thermal.music.enabled' }),
        source: Type.String({ description: 'who announced the track (e.g. render:<id>)' }),
        musicDba: Type.Union([Type.Number(), Type.Null()], { description: 'music at the listener now, dBA (null: before the track starts)' }),
        allowedDba: Type.Union([Type.Number(), Type.Null()], { description: 'what the fans may make there now, dBA' }),
        cap: Type.Union([Type.Number(), Type.Null()], { description: 'highest zone duty the budget allows now (below minDuty: stopped)' }),
        floor: Type.Union([Type.Number(), Type.Null()], { description: 'lowest zone duty the plan needs now (pre-cooling)' }),
        pathC: Type.Union([Type.Number(), Type.Null()], { description: 'the planned temperature path now, C' }),
        offsetW: Type.Union([Type.Number(), Type.Null()], { description: 'heat the plan adds to its model from what it has observed (the rig off thermal.music.model), W' }),
        lifted: Type.Union([Type.Literal('ceiling'), Type.Null()], { description: 'the die reached setpoint + warmAboveSetpointCelsius: fans at full until it is back under' }),
      },
      { description: "the track this zone's noise budget follows" },
    ),
    Type.Null(),
  ],
  { description: 'music-aware cooling (thermal.music); null: no track announced' },
);
export type MusicView = Static<typeof MusicView>;

export function musicView(router: MusicRouter, zoneId: string): MusicView {
  const v = router.view(zoneId);
  if (!v?.source) return null;
  const l = v.last;
  return {
    enabled: router.config.enabled,
    source: v.source,
    musicDba: l ? num(l.musicDba) : null,
    allowedDba: l ? num(l.allowedDba) : null,
    cap: l ? num(l.cap) : null,
    floor: l ? num(l.floor) : null,
    pathC: l ? num(l.pathC) : null,
    offsetW: l ? num(l.offsetW) : null,
    lifted: l?.lifted ?? null,
  };
}
