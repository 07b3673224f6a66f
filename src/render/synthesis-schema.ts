/**
 * The API's schema of a synthesis worker's entry (synthesis-record.ts SynthesisWorkerInfo): one
 * source for every view that says what made frames (render jobs, live sessions).
 */
import { Type } from '@sinclair/typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** Its properties, for views that add their own frame count. */
export const synthesisWorkerProperties = {
  id: Type.String(),
  engine: Type.Union([Type.Literal('onnx'), Type.Literal('webgpu')]),
  provider: Type.String({ description: 'what the frames ran on, after any fallback' }),
  adapter: Nullable(Type.Object({ vendor: Type.String(), architecture: Type.String(), device: Type.String(), description: Type.String() }, { description: 'webgpu engine: the adapter it opened' })),
  precision: Nullable(Type.Union([Type.Literal('f16'), Type.Literal('f32')], { description: "webgpu engine: its kernels'; onnx: the graph's" })),
  precisionNote: Nullable(Type.String()),
  fallback: Type.Array(Type.Object({ provider: Type.String(), error: Type.String() }), { description: 'providers tried first and why each could not be used' }),
  binding: Nullable(
    Type.Object({
      source: Type.Union([Type.Literal('gpu'), Type.Literal('env')]),
      gpu: Type.Optional(Type.Integer()),
      busId: Type.Optional(Type.String()),
      env: Type.Record(Type.String(), Type.String()),
    }, { description: "how the worker's process was bound to its GPU" }),
  ),
};
