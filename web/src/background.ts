/**
 * Runs a promise that nothing awaits (a click's request, a refresh): a failure is reported on the console
 * instead of becoming an unhandled rejection. The SDK's requests answer Results and do not reject; this
 * catches what the code after them throws.
 * @example background(client.react(id, emoji, on).then(render));
 */
export function background(task: Promise<unknown>): void {
  task.catch((error: unknown) => console.error("background task failed", error));
}
