export {
  EraseError,
  InvalidOptionError,
  FileFormatError,
  WeightKeysError,
  NotPositiveDefiniteError,
  SamplingExhaustedError,
  BackendUnavailableError,
  ShapeMismatchError,
  AbortedError,
  UnsupportedError,
  throwIfAborted,
} from './errors';
export type { EraseErrorCode } from './errors';
