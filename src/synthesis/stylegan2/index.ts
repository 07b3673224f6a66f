/**
 * Public API of the StyleGAN2 network builder and importer.
 *
 *   buildGenerator(dict, shape, options)      -> ONNX bytes + input/output contract
 *   writeNetwork(dict, shape, path, source)   -> NAME.onnx + NAME.json (sidecar)
 *   importNetwork(weightsFile, outPath, opts) -> same, from safetensors / .npz
 *   buildRandomNetwork(shape, seed, path)     -> same, seeded random weights
 *   readSidecar / parseSidecar / contractMismatches -> the contract, checked
 */
export { buildGenerator, DEFAULT_BUILD, noiseInputName, OPSET, type BuildOptions, type BuiltGenerator, type Modulation, type Upsample, type OutputKind } from './generator.ts';
export { configF, demoShape, numWs, blockResolutions, channelsAt, synthesisLayers, checkShape, type GeneratorShape, type LayerInfo } from './shape.ts';
export { expectedTensors, validateStateDict, inferShape, WeightsError, type StateDict, type WeightTensor, type TensorSpec } from './state-dict.ts';
export { randomStateDict } from './random-weights.ts';
export { SeededRandom } from './random.ts';
export {
  NetworkSidecar,
  TensorContract,
  parseSidecar,
  readSidecar,
  contractMismatches,
  SidecarError,
  SIDECAR_FORMAT,
  SIDECAR_VERSION,
  type SessionValue,
} from './sidecar.ts';
export { writeNetwork, listNetworks, sidecarPathFor, sha256, randomSourceHash, type WrittenNetwork, type ListedNetwork, type NetworkSource } from './network-file.ts';
export { importNetwork, readWeightsFile, buildRandomNetwork, type ImportOptions } from './import.ts';
export { encodeSafetensors, writeSafetensors } from './safetensors-write.ts';
export { parseSafetensors, parseNpz, type WeightsFile } from './weights-file.ts';
