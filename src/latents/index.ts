export { LatentsConfig, NoiseConfig, StreamingConfig, LiveInputConfig } from './config.ts';
export { LatentError, type LatentErrorCode } from './errors.ts';
export type { LatentFrame, FrameFeatures } from './frame.ts';
export { createLiveParams, updateLiveParams, LiveParamsPatch, type LiveParams } from './params.ts';
export { prepareOffline, offlineLatents, latentFrameAt, type OfflineOptions, type OfflinePlan } from './offline.ts';
export { streamingLatents, noiseLoop, type StreamingOptions } from './streaming.ts';
export { ganceNoise } from './noise.ts';
export { LegacyRandomState } from './rng.ts';
export { createLatentsService, type LatentsService, type LatentsServiceDeps } from './service.ts';
