import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { describeBinding, isWildcardHost } from './hosts.ts';
import type { Unit } from '../lifecycle/unit.ts';

/** The HTTP listener as a unit: it starts first so /healthz and /readyz answer while the rest comes up. */
/**
 * `url`: where a client on this machine reaches the API; `bound`: what the socket is really bound
 * to, said plainly (fastify's own answer for 0.0.0.0 is http://127.0.0.1:..., which hides that
 * the whole network can reach it).
 */
export function httpUnit(app: FastifyInstance, host: string, port: number, onListening: (url: string, bound: string) => void): Unit {
  return {
    name: 'http',
    async start() {
      try {
        const listened = await app.listen({ host, port });
        const info = app.server.address() as AddressInfo | null;
        if (info === null) return onListening(listened, host);
        const local = isWildcardHost(info.address) ? (info.family === 'IPv6' ? '[::1]' : '127.0.0.1') : info.address.includes(':') ? `[${info.address}]` : info.address;
        onListening(`http://${local}:${info.port}`, describeBinding(info.address, info.port));
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
