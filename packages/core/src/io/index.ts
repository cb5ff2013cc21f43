export { writeFileAtomic, writeTextFileAtomic, writeJsonFileAtomic, writeAll } from './atomic-write';
export type { AtomicWriteOptions } from './atomic-write';
