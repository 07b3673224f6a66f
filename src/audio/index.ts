export { AudioError, type AudioErrorCode } from './errors.ts';
export { decodeFile, decodeFiles, probeAudio, type AudioProbe, type DecodedAudio, type DecodeOptions } from './decode.ts';
export { scaleForVideo, ganceScaledRate, type VideoAudio, type VideoScaling } from './gance-audio.ts';
export { resampleKaiserBest } from './resampy.ts';
export { liveFrames, pcmFrames, type LiveSource, type LiveFramesOptions, type AudioBlock } from './live.ts';
