// Where the test suite finds its services. CI and developers' machines run Postgres and Redis locally.
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/funnelsync_test";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** FUNNELSYNC_HASH_KEY of every app the tests start: erasure tests leave suppressions made with it. */
export const TEST_HASH_KEY = "test-hash-key-0123456789abcdef0123456789abcdef";
