/**
 * Ends the CLI only once everything written to stdout and stderr has reached its reader: process.exit()
 * drops whatever a pipe has not taken yet (a JSON report piped to another program was cut at 64 KiB).
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((done) => {
    if (stream.destroyed || !stream.writable) return done();
    // A reader that went away (`| head`) is no reason to fail or to wait.
    stream.once('error', () => done());
    stream.write('', () => done());
  });
}

export async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
