import { fileURLToPath } from 'node:url';

/** The repository root, resolved from this file so tests run from any working directory. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Scratch space shared by test runs; ignored by git and safe to delete. */
export const CACHE_DIR = `${ROOT}.cache`;
