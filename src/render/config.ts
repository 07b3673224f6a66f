/**
 * Config section `render`: how renders use the disk. The encoder settings are per render (the
 * spec); these are the machine's.
 */
import { Type, type Static } from '@sinclair/typebox';

export const RenderConfig = Type.Object(
  {
    segmentFrames: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 240,
      description: 'frames per encoded segment: an interrupted render resumes after its last complete segment',
    }),
    workDir: Type.String({
      minLength: 1,
      default: './state/renders',
      description: "where renders keep their segments while they run (a folder per render); best on the outputs' disk",
    }),
  },
  { additionalProperties: false, default: {} },
);
export type RenderConfig = Static<typeof RenderConfig>;
