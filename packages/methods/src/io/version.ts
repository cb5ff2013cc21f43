/** The @erase/methods version written into `erase_config.json` (kept equal to package.json by test/save.test.ts). */
export const ERASE_VERSION = '0.1.0';
