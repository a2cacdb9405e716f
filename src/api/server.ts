/** Listening and graceful closing for the HTTP server (used by src/cli/api.ts). */
import type { Server } from 'node:http';
import type { Express } from 'express';

export interface RunningServer {
  server: Server;
  port: number;
  /** stops accepting connections, lets in-flight requests finish (up to `graceMs`), then drops the rest */
  close(graceMs?: number): Promise<void>;
}

export function listen(app: Express, port: number, host?: string): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host ?? '::', (err?: Error) => {
      if (err) {
        reject(err);
        return;
      }
      const addr = server.address();
      const actual = addr && typeof addr === 'object' ? addr.port : port;
      resolve({
        server,
        port: actual,
        close: (graceMs = 10_000) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => server.closeAllConnections(), graceMs);
            timer.unref();
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}
