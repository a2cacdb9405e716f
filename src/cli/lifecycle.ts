/** Process lifecycle for the CLI entry points: one graceful shutdown on SIGINT/SIGTERM, fatal errors. */
import { logger } from '../lib/logger';

/**
 * Runs `stop` once on the first SIGINT/SIGTERM (or when the parent `npm start` process goes away, which
 * closes the IPC channel), then exits. A third signal, or `stop` taking longer than `forceAfterMs`,
 * exits at once.
 */
export function onShutdown(stop: (reason: string) => Promise<void>, forceAfterMs = 30_000): void {
  let stopping = false;
  let signals = 0;
  const run = (reason: string) => {
    signals++;
    if (stopping) {
      if (signals >= 3) {
        logger.warn('forced exit');
        process.exit(130);
      }
      return;
    }
    stopping = true;
    logger.info({ reason }, 'shutting down');
    setTimeout(() => {
      logger.error(`shutdown took longer than ${forceAfterMs} ms; exiting`);
      process.exit(1);
    }, forceAfterMs).unref();
    stop(reason).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => run('SIGINT'));
  process.on('SIGTERM', () => run('SIGTERM'));
  if (process.send) process.on('disconnect', () => run('parent process exited'));
}

/** Tells a parent `npm start` process (if any) that this process is ready. */
export function notifyReady(info: Record<string, unknown> = {}): void {
  process.send?.({ type: 'ready', ...info });
}

export function fatal(what: string) {
  return (err: unknown): never => {
    logger.fatal({ err }, `${what} failed to start`);
    process.stderr.write(`\n${what}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  };
}
