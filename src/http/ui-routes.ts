/**
 * The web UI on the management port: GET / answers ui/index.html and GET /ui/{path} the UI's other
 * files, without authentication (the browser code logs in and sends basic auth to /api itself). The
 * files are loaded once, on the first request, and served from memory; a Content-Security-Policy keeps
 * the page to its own origin (no CDN, no inline script).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { HttpError } from './errors.js';
import { loadUiAssets, type UiAsset, type UiAssets } from './ui-assets.js';

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** Registers GET / and GET /ui/*. */
export function registerUiRoutes(app: FastifyInstance): void {
  let loading: Promise<UiAssets> | undefined;
  const assets = (): Promise<UiAssets> => {
    loading ??= loadUiAssets().catch((error: unknown) => {
      loading = undefined;
      throw new HttpError(503, `the web UI is unavailable: ${error instanceof Error ? error.message : String(error)}`);
    });
    return loading;
  };
  const send = (reply: FastifyReply, asset: UiAsset): FastifyReply => reply.headers(SECURITY_HEADERS).type(asset.contentType).send(asset.body);

  app.get('/', async (_request, reply) => {
    const index = (await assets()).get('index.html');
    if (index === undefined) throw new HttpError(503, 'the web UI is unavailable: ui/index.html is missing');
    return send(reply, index);
  });
  app.get<{ Params: { '*': string } }>('/ui/*', async (request, reply) => {
    const path = request.params['*'];
    const asset = (await assets()).get(path);
    if (asset === undefined) throw new HttpError(404, `no UI file '${path}'`);
    return send(reply, asset);
  });
}
