export { ProjectionError, type ProjectionErrorCode } from './errors.ts';
export { type ProjectionAttributes, LATEST_VERSION, LATENT_WIDTH } from './format.ts';
export { ProjectionFileReader, type OpenOptions, type ImageFrame } from './reader.ts';
export { ProjectionFileWriter, type NewProjectionAttributes, type ProjectionFrame } from './writer.ts';
