// Starts the parsing worker from the TypeScript sources (see WORKER_URL in pool.ts): worker threads
// do not inherit tsx's loader on Node 20, so the worker registers tsx's CommonJS hook itself, which
// works inside the thread (the ESM hooks would start yet another thread per worker).
require("tsx/cjs/api").register();
require("./worker.ts");
