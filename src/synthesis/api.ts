/**
 * /v1/networks: the network catalogue, and loading a network into the inference workers.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ErrorReply, type ApiPlugin } from '../api/app.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../api/errors.ts';
import { InvalidNetworkError, SynthesisUnavailableError, UnknownNetworkError, type NetworkManager } from './networks/manager.ts';

const Tensor = Type.Object({
  name: Type.String(),
  role: Type.String({ description: 'latent, psi, noise, frames or image' }),
  dtype: Type.String(),
  shape: Type.Array(Type.Union([Type.Integer(), Type.String()]), { description: '"N" is the batch' }),
});

const LoadedOn = Type.Object({
  worker: Type.String(),
  provider: Type.String({ description: 'execution provider the worker got (cuda, webgpu, cpu)' }),
  engine: Type.Union([Type.Literal('onnx'), Type.Literal('webgpu')], { description: 'onnx: onnxruntime; webgpu: the WGSL engine' }),
  adapter: Type.Optional(
    Type.Object(
      {
        vendor: Type.String(),
        architecture: Type.String(),
        device: Type.String(),
        description: Type.String(),
        precision: Type.Optional(Type.Union([Type.Literal('f32'), Type.Literal('f16')], { description: 'the conv kernels\' arithmetic' })),
        precisionNote: Type.Optional(Type.String({ description: 'why the precision is not the one configured (auto on an adapter without shader-f16)' })),
      },
      { description: 'webgpu engine: the adapter the worker opened, as WebGPU reports it' },
    ),
  ),
  binding: Type.Optional(
    Type.Object(
      {
        source: Type.Union([Type.Literal('gpu'), Type.Literal('env')], { description: "gpu: derived from the worker's `gpu` (its PCI bus from nvidia-smi); env: set in the worker's env" }),
        gpu: Type.Optional(Type.Integer({ description: "nvidia-smi's index" })),
        busId: Type.Optional(Type.String({ description: 'PCI bus id as nvidia-smi prints it' })),
        env: Type.Record(Type.String(), Type.String(), { description: "the device-select variables of the worker's process" }),
      },
      { description: "how a WebGPU worker's process is bound to its GPU (Mesa's device-select layer)" },
    ),
  ),
  fallback: Type.Optional(
    Type.Array(Type.Object({ provider: Type.String(), error: Type.String() }), {
      description: 'the providers tried before `provider` and why each could not be used (absent: the first one worked)',
    }),
  ),
  pid: Type.Integer(),
  isolation: Type.Union([Type.Literal('thread'), Type.Literal('process')]),
});

const Network = Type.Object({
  id: Type.String(),
  path: Type.String({ description: 'the ONNX file' }),
  sidecar: Type.String({ description: 'the JSON sidecar' }),
  bundled: Type.Boolean(),
  state: Type.Union(['available', 'loading', 'loaded', 'failed', 'invalid'].map((s) => Type.Literal(s)), {
    description: 'invalid: the files are broken or disagree (see error); failed: the last load failed (see error)',
  }),
  active: Type.Boolean({ description: 'frames without an explicit network render with it' }),
  error: Type.Optional(Type.String()),
  resolution: Type.Optional(Type.Integer()),
  numWs: Type.Optional(Type.Integer()),
  zDim: Type.Optional(Type.Integer()),
  dtype: Type.Optional(Type.String({ description: 'precision inside the graph' })),
  inputs: Type.Optional(Type.Array(Tensor)),
  outputs: Type.Optional(Type.Array(Tensor)),
  loaded: Type.Array(LoadedOn, { description: 'workers that have it loaded and warmed' }),
});

const Catalogue = Type.Object({
  active: Type.Union([Type.String(), Type.Null()]),
  networks: Type.Array(Network),
});

const LoadReply = Type.Object({
  id: Type.String(),
  state: Type.Union([Type.Literal('loading'), Type.Literal('loaded')]),
});

export function networksPlugin(manager: NetworkManager): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

    app.get(
      '/',
      {
        schema: {
          description: 'Networks in the configured folders and the bundled ones, whether each is usable, and where it is loaded',
          tags: ['synthesis'],
          response: { 200: Catalogue },
        },
      },
      async () => manager.list(),
    );

    app.post(
      '/:id/load',
      {
        schema: {
          description:
            'Load a network into every inference worker in the background (202), then it lists as loaded. ' +
            'Workers keep rendering with the networks they had meanwhile, and if the load fails.',
          tags: ['synthesis'],
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) }),
          querystring: Type.Object({
            activate: Type.Boolean({ default: false, description: 'make it the active network once loaded (switches between two frames)' }),
            replace: Type.Boolean({
              default: false,
              description: 'hot swap: activate it once loaded and unload the network that was active (once the frames already submitted for it are done)',
            }),
          }),
          response: { 200: LoadReply, 202: LoadReply, 404: ErrorReply, 409: ErrorReply, 422: ErrorReply },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        try {
          const state = manager.requestLoad(id, { activate: req.query.activate, replace: req.query.replace });
          return reply.code(state === 'loaded' ? 200 : 202).send({ id, state });
        } catch (err) {
          throw apiError(err);
        }
      },
    );

    app.post(
      '/:id/unload',
      {
        schema: {
          description: 'Release a network from every inference worker, once the frames already submitted for it are done. The active network, and one a render or a live session holds, cannot be unloaded (409, naming who holds it).',
          tags: ['synthesis'],
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) }),
          response: { 200: Type.Object({ id: Type.String(), state: Type.Literal('available') }), 404: ErrorReply, 409: ErrorReply },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        try {
          await manager.unload(id);
          return reply.code(200).send({ id, state: 'available' as const });
        } catch (err) {
          throw apiError(err);
        }
      },
    );
  };
}

/** The manager's errors as the app's typed API errors (the app's error handler answers them); anything else stays a 500. */
function apiError(err: unknown): unknown {
  if (err instanceof UnknownNetworkError) return new NotFoundError(err.message);
  if (err instanceof InvalidNetworkError) return new UnprocessableError(err.message);
  if (err instanceof SynthesisUnavailableError) return new ConflictError(err.message);
  return err;
}

export function networksApi(manager: NetworkManager): ApiPlugin {
  return { prefix: '/v1/networks', plugin: networksPlugin(manager) };
}
