/**
 * Parameters that may change while frames are being produced (on stage). The generators read the
 * object once per frame, so assigning through `updateLiveParams` takes effect on the next frame.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { rangeOrderProblem, type LatentsConfig } from './config.ts';
import { LatentError } from './errors.ts';

export const LiveParamsPatch = Type.Object(
  {
    alpha: Type.Optional(Type.Number({ minimum: 0 })),
    blendDepth: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
    amplitudeRange: Type.Optional(Type.Tuple([Type.Number(), Type.Number()])),
    networkCount: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    networkOverride: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    pulse: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    motion: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    chroma: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  },
  { additionalProperties: false },
);
export type LiveParamsPatch = Static<typeof LiveParamsPatch>;

export interface LiveParams {
  alpha: number;
  blendDepth: number;
  /** Applied on top of the configured range: v' = a' + (v - a) * (b' - a') / (b - a). */
  amplitudeRange: [number, number];
  networkCount: number;
  /** Pin one network, or null to follow the music. */
  networkOverride: number | null;
  /** reactive gains (synthesis.latents.reactive): 0 leaves GANce's latents untouched */
  pulse: number;
  motion: number;
  chroma: number;
}

const check = TypeCompiler.Compile(LiveParamsPatch);

export function createLiveParams(config: Pick<LatentsConfig, 'alpha' | 'blendDepth' | 'fftAmplitudeRange'> & { reactive?: Pick<LatentsConfig['reactive'], 'pulse' | 'motion' | 'chroma'> }, networkCount: number): LiveParams {
  if (!Number.isInteger(networkCount) || networkCount < 1) throw new LatentError('LATENT_NO_NETWORKS', `need at least one network, got ${networkCount}`);
  return {
    alpha: config.alpha,
    blendDepth: config.blendDepth,
    amplitudeRange: [config.fftAmplitudeRange[0], config.fftAmplitudeRange[1]],
    networkCount,
    networkOverride: null,
    pulse: config.reactive?.pulse ?? 0,
    motion: config.reactive?.motion ?? 0,
    chroma: config.reactive?.chroma ?? 0,
  };
}

/** Validate and apply a patch in place; a bad patch changes nothing. */
export function updateLiveParams(params: LiveParams, patch: unknown): void {
  if (!check.Check(patch)) {
    const e = check.Errors(patch).First();
    throw new LatentError('LATENT_BAD_PARAMETER', `live parameter ${e?.path || '/'} ${e?.message ?? 'invalid'}`);
  }
  const p = patch as LiveParamsPatch;
  const reversed = rangeOrderProblem(p.amplitudeRange);
  if (reversed) throw new LatentError('LATENT_BAD_PARAMETER', `live parameter /amplitudeRange ${reversed}`);
  if (p.networkOverride !== undefined && p.networkOverride !== null && p.networkOverride >= (p.networkCount ?? params.networkCount)) {
    throw new LatentError('LATENT_BAD_PARAMETER', `networkOverride ${p.networkOverride} is not below the network count ${p.networkCount ?? params.networkCount}`);
  }
  if (p.alpha !== undefined) params.alpha = p.alpha;
  if (p.blendDepth !== undefined) params.blendDepth = p.blendDepth;
  if (p.amplitudeRange !== undefined) params.amplitudeRange = [p.amplitudeRange[0], p.amplitudeRange[1]];
  if (p.networkCount !== undefined) params.networkCount = p.networkCount;
  if (p.networkOverride !== undefined) params.networkOverride = p.networkOverride;
  if (p.pulse !== undefined) params.pulse = p.pulse;
  if (p.motion !== undefined) params.motion = p.motion;
  if (p.chroma !== undefined) params.chroma = p.chroma;
}
