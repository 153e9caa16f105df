// The EventSource contract over the control plane's HTTP stream: a real SQLite ControlStore, a real
// HTTP server mounting streamEvents (event-source-control.ts), and HttpStreamSource over undici.
import { HttpStreamSource } from '../../src/edge/sync/http-stream-source.ts';
import { createLogger } from '../../src/common/log.ts';
import { eventSourceTests } from './event-source.ts';
import { openTestStore, startTestControl, TEST_TOKEN } from './event-source-control.ts';

const log = createLogger('contract-test', process.env.MERIDIAN_TEST_LOG === 'debug' ? 'debug' : 'error');

eventSourceTests('HTTP stream', async () => {
  const { store, close } = await openTestStore();
  const control = await startTestControl(store);
  return {
    store,
    controlUrl: control.url,
    createSource: () =>
      new HttpStreamSource({
        controlUrl: control.url,
        token: TEST_TOKEN,
        backoff: { initialMs: 20, maxMs: 200 },
        log,
      }),
    interrupt: async (during) => {
      await control.stop();
      try {
        await during();
      } finally {
        await control.start();
      }
    },
    dropOldest: async (keep) => {
      await store.pruneEvents(keep);
    },
    stopControl: () => control.stop(),
    startControl: () => control.start(),
    close: async () => {
      await control.stop();
      await close();
    },
  };
});
