/**
 * The web console (console/, built to console/dist): its static files, and index.html for every other
 * browser path (the console routes in the browser). API paths are never answered here. The console is a
 * client of the public API only; index.html carries the Temporal UI address (TALLY_TEMPORAL_UI_URL) so that
 * subscription and invoice pages can link to their workflows.
 */
import express, { type RequestHandler } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const DEFAULT_CONSOLE_DIR = path.resolve(__dirname, '..', '..', 'console', 'dist');

/** paths the console never answers (the API, its documents, the probes) */
const NOT_CONSOLE = /^\/(v3(\/|$)|openapi\.|healthz$|readyz$)/;

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function consoleHandlers(opts: {
  dir?: string;
  temporalUiUrl?: string;
  temporalNamespace?: string;
}): RequestHandler[] {
  const dir = path.resolve(opts.dir || DEFAULT_CONSOLE_DIR);
  const indexFile = path.join(dir, 'index.html');
  let index: string | undefined;
  const page = (): string | undefined => {
    if (index === undefined && existsSync(indexFile)) {
      const meta =
        `<meta name="tally-temporal-ui-url" content="${escapeAttr(opts.temporalUiUrl ?? '')}" />` +
        `<meta name="tally-temporal-namespace" content="${escapeAttr(opts.temporalNamespace ?? 'default')}" />`;
      index = readFileSync(indexFile, 'utf8').replace('</head>', `${meta}</head>`);
    }
    return index;
  };
  const skipApi: RequestHandler = (req, _res, next) => {
    if (NOT_CONSOLE.test(req.path)) next('router');
    else next();
  };
  const router = express.Router();
  router.use(skipApi);
  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), {
      index: false,
      fallthrough: false,
      immutable: true,
      maxAge: '1y',
      setHeaders: (res) => res.set(SECURITY_HEADERS),
    }),
  );
  router.use(express.static(dir, { index: false, setHeaders: (res) => res.set(SECURITY_HEADERS) }));
  // every other browser navigation: the console's page, which routes in the browser
  router.get(/.*/, (req, res, next) => {
    const html = page();
    if (!html) {
      if (req.path !== '/') return next();
      res
        .status(503)
        .type('text/plain')
        .send('The console is not built: run `npm --prefix console run build` (npm start does it).\n');
      return;
    }
    res
      .set({ ...SECURITY_HEADERS, 'Cache-Control': 'no-cache' })
      .type('html')
      .send(html);
  });
  return [router];
}
