/**
 * Preloaded into a spawned service process (`node --import`): the IPC message `reject` raises an
 * unhandled rejection and `throw` an uncaught exception, as a bug anywhere in the process would.
 */
process.on('message', (message) => {
  if (message === 'reject') void Promise.reject(new Error('injected rejection'));
  if (message === 'throw')
    setImmediate(() => {
      throw new Error('injected exception');
    });
});
