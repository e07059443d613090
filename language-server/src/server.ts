/** Entry point of dist/server.js: `node dist/server.js --stdio` (or --node-ipc from the VS Code client). */
import { startServer } from './handlers/connection';
import { isCheckWorker } from './handlers/checkWorker';

// The recipe check worker loads this same bundle (handlers/checkWorker.ts): it serves checks, not a server.
if (!isCheckWorker) startServer();
