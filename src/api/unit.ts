import type { FastifyInstance } from 'fastify';
import type { Unit } from '../lifecycle/unit.ts';

/** The HTTP listener as a unit: it starts first so /healthz and /readyz answer while the rest comes up. */
export function httpUnit(app: FastifyInstance, host: string, port: number, onListening: (address: string) => void): Unit {
  return {
    name: 'http',
    async start() {
      try {
        const address = await app.listen({ host, port });
        onListening(address);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new Error(`server.port: ${host}:${port} is already in use`);
        if (code === 'EADDRNOTAVAIL') throw new Error(`server.host: ${host} is not an address of this machine`);
        throw err;
      }
    },
    async stop() {
      await app.close();
    },
  };
}
