/** Entry point of dist/server.js: `node dist/server.js --stdio` (or --node-ipc from the VS Code client). */
import { startServer } from './handlers/connection';

startServer();
