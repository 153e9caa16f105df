// How a long-running process command (edge, control, dns) ends: SIGINT or SIGTERM closes it,
// logging the stop and its outcome, then exits 0 (or 1 when closing failed).
import type { Logger } from '../common/log.ts';

export function stopOnSignals(close: () => Promise<void>, log: Logger): void {
  const stop = (signal: NodeJS.Signals): void => {
    log.info('stopping', { signal });
    close().then(
      () => {
        log.info('stopped', { signal });
        process.exit(0);
      },
      (err: unknown) => {
        log.error('stop failed', { signal, err });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
