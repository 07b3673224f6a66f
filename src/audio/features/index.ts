export { FeatureError, type FeatureErrorCode } from './errors.ts';
export { ganceSpectrogram, type GanceSpectrogram, type SpectrogramOptions } from './spectrogram.ts';
export { frameRms, smoothedRollingAverage, quantizeToIndices } from './rms.ts';
export { StreamingGanceSpectrogram, type StreamingFrame, type StreamingSpectrogramOptions } from './streaming.ts';
export { richFeaturesOffline, RichFeaturesStream, RichFeatureExtractor, type RichFeatures, type RichOptions } from './rich.ts';
export { savgol } from './savgol.ts';
