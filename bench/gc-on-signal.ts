/**
 * Preloaded into the server process by the soak (with `--expose-gc`) so that memory is sampled after a full
 * garbage collection: SIGUSR2 runs `gc()`. Never loaded by `npm start`.
 */
process.on("SIGUSR2", () => {
  (globalThis as { gc?: () => void }).gc?.();
});
