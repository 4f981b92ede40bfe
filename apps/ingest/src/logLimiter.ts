/**
 * At most `perWindow` lines in each fixed window; the rest are counted instead, so refused requests
 * (anyone can send them) cannot fill the disk.
 */
export function createLogLimiter(options: { perWindow: number; windowMs: number; now: () => number; onSuppressed: () => void }): (write: () => void) => void {
  let windowStart = -Infinity;
  let written = 0;
  return (write) => {
    const at = options.now();
    if (at - windowStart >= options.windowMs) {
      windowStart = at;
      written = 0;
    }
    if (written < options.perWindow) {
      written++;
      write();
    } else {
      options.onSuppressed();
    }
  };
}
