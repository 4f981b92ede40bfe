/** A bad argument or option: the CLI prints the one-line message and exits 2, like a ConfigError. */
export class UsageError extends Error {
  override name = "UsageError";
}
