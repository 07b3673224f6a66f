/**
 * GET / : where a browser pointed at the daemon's address lands. A JSON 404 there told a new user
 * nothing; the page links the places the README names. Public like /healthz: it holds links, no state.
 */
import { createRequire } from 'node:module';
import type { ApiPlugin } from './app.ts';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface IndexLink {
  path: string;
  what: string;
}

export const DAEMON_LINKS: IndexLink[] = [
  { path: '/v1/thermal/ui', what: 'thermal page: zones, fans, alarms, PID settings' },
  { path: '/docs', what: 'API documentation (OpenAPI; the document is /docs/json)' },
  { path: '/v1/renders', what: 'render jobs (JSON)' },
  { path: '/v1/live', what: 'live sessions (JSON; each has a projector page)' },
  { path: '/metrics', what: 'Prometheus metrics' },
  { path: '/readyz', what: 'readiness: the subsystems not ready yet' },
];

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The links whose route this app has (a subsystem turned off has none), on a plain HTML page. */
export function indexPage(links: IndexLink[] = DAEMON_LINKS): ApiPlugin {
  const page = (present: IndexLink[]) => {
    const items = present.map((l) => `<li><a href="${escape(l.path)}">${escape(l.path)}</a>: ${escape(l.what)}</li>`).join('\n');
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gance ${escape(version)}</title></head>
<body><h1>gance ${escape(version)}</h1>
<ul>
${items}
</ul></body></html>
`;
  };
  return {
    prefix: '',
    plugin: async (app) => {
      let html: string | undefined;
      app.get('/', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => {
        // every route is there by the first request: the app is ready before it listens
        html ??= page(links.filter((l) => app.hasRoute({ method: 'GET', url: l.path }) || app.hasRoute({ method: 'GET', url: `${l.path}/` })));
        return reply.type('text/html; charset=utf-8').send(html);
      });
    },
  };
}
