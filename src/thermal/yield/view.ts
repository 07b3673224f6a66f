/** The yield state as /v1/thermal shows it (TypeBox: validation, type and OpenAPI in one). */
import { Type } from '@sinclair/typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const YieldView = Type.Object(
  {
    enabled: Type.Boolean(),
    powerLimit: Type.Boolean({ description: 'power limits are lowered while yielding (thermal.yield.powerLimit.enabled and a way to set them)' }),
    zones: Type.Array(
      Type.Object({
        zone: Type.String(),
        gpus: Type.Array(Type.Integer()),
        step: Type.Integer({ description: '0: full speed; k: steps[k-1] of the speed before yielding' }),
        steps: Type.Integer(),
        speed: Type.Number({ description: 'synthesis speed share on the zone GPUs; 0: renders paused' }),
        since: Nullable(Type.String({ format: 'date-time' })),
        reason: Type.String(),
        riseCPerMinute: Nullable(Type.Number()),
        baselineFps: Nullable(Type.Number({ description: 'render fps before yielding' })),
        pausedSeconds: Type.Number(),
        yieldingSeconds: Type.Number(),
        powerLimit: Type.Array(Type.Object({ gpu: Type.Integer(), watts: Nullable(Type.Number({ description: 'limit set by yielding; null: the default' })), defaultW: Nullable(Type.Number()), error: Nullable(Type.String()) })),
        renderRate: Type.Array(
          Type.Object({
            gpu: Type.Integer(),
            paused: Type.Boolean({ description: 'renders on the GPU paused, by the operator or by yielding' }),
            fps: Nullable(Type.Number({ description: 'the rate renders on the GPU are held to: the lower of the operator\'s and yielding\'s; null: no limit' })),
            fpsFrom: Nullable(Type.Union([Type.Literal('operator'), Type.Literal('yield')], { description: 'whose rate fps is (the operator\'s when both are equal)' })),
            operatorFps: Nullable(Type.Number({ description: 'the operator\'s own rate, kept while yielding holds the GPU lower and applied again once it lets go' })),
            yieldFps: Nullable(Type.Number({ description: 'yielding\'s rate; null while it does not limit the rate' })),
          }),
          { description: 'where the render rate on each of the zone GPUs comes from' },
        ),
      }),
    ),
    events: Type.Array(Type.Object({ at: Type.String({ format: 'date-time' }), zone: Type.String(), step: Type.Integer(), speed: Type.Number(), reason: Type.String() }), { description: 'recent step changes, oldest first' }),
  },
  { description: 'synthesis yielding to heat (thermal.yield)' },
);
