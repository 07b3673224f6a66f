/**
 * Modes under /v1/thermal (registered by the thermal plugin):
 *   GET    /mode   the modes the config defines and the one applied last
 *   PUT    /mode   { name } switches every zone to it ({ name: null }: no mode)
 *   DELETE /mode   no mode: the last mode's settings go, the tunings under it show again
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { ErrorReply } from '../../api/app.ts';
import { LIMITS } from '../config.ts';
import type { ThermalService } from '../service/service.ts';
import { settingPaths } from '../zone-patch.ts';
import { modePatch } from './config.ts';

const tags = ['thermal'];
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const ModesView = Type.Object({
  active: Nullable(Type.Object({ name: Type.String(), at: Type.String({ format: 'date-time' }) }, { description: 'the mode applied last and not cleared since (a later tuning may still have changed some of its settings: see each zone\'s provenance)' })),
  modes: Type.Array(
    Type.Object({
      name: Type.String(),
      description: Nullable(Type.String()),
      zones: Type.Record(Type.String(), Type.Array(Type.String()), { description: 'per zone it changes, the settings it sets (dotted paths)' }),
    }),
  ),
  persisted: Type.Optional(Type.Boolean({ description: 'after a switch: false when it applied but could not be saved (see the tuning-not-saved alarm)' })),
});
export type ModesView = Static<typeof ModesView>;

export function modesView(service: ThermalService): ModesView {
  const { active, modes } = service.modeState();
  return {
    active,
    modes: modes.map((m) => ({
      name: m.name,
      description: m.description ?? null,
      zones: Object.fromEntries(service.zoneIds().flatMap((id) => {
        const paths = settingPaths(modePatch(m, id));
        return paths.length ? [[id, paths]] : [];
      })),
    })),
  };
}

export function modeRoutes(service: ThermalService): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/mode', { schema: { description: 'The modes (thermal.modes) and the one applied last', tags, response: { 200: ModesView } } }, async () => modesView(service));

    app.put(
      '/mode',
      {
        schema: {
          description:
            'Switch every zone to a mode: the previous mode\'s settings go, this mode\'s go on top of each zone\'s tunings (the last applied wins; a later PATCH wins over it). ' +
            'Checked for every zone before any changes. Saved like a tuning. name null: no mode.',
          tags,
          body: Type.Object({ name: Nullable(Type.String({ minLength: 1, maxLength: LIMITS.id, description: 'a thermal.modes[].name' })) }, { additionalProperties: false }),
          response: { 200: ModesView, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply, 500: ErrorReply },
        },
      },
      async (req) => {
        const { persisted } = await service.applyMode(req.body.name);
        return { ...modesView(service), persisted };
      },
    );

    app.delete('/mode', { schema: { description: 'No mode: the last mode\'s settings go (the tunings under it show again)', tags, response: { 200: ModesView, 400: ErrorReply, 409: ErrorReply, 500: ErrorReply } } }, async () => {
      const { persisted } = await service.applyMode(null);
      return { ...modesView(service), persisted };
    });
  };
}
