// Typed errors of the detection engine. Each carries a stable `code` that the
// CLI prints, the API maps to an HTTP status, and job handlers use to decide
// whether a retry can help (`retryable: false` = bad input, never retry).

export type DetectionErrorCode =
  | 'unsupported_format'
  | 'corrupt_image'
  | 'too_many_pixels'
  | 'too_large'
  | 'empty_input'
  | 'file_not_found'
  | 'unknown_model'
  | 'model_unavailable'
  | 'model_checksum_mismatch'
  | 'device_unavailable'
  | 'invalid_device'
  | 'inference_failed';

const NOT_RETRYABLE: ReadonlySet<DetectionErrorCode> = new Set([
  'unsupported_format',
  'corrupt_image',
  'too_many_pixels',
  'too_large',
  'empty_input',
  'file_not_found',
  'unknown_model',
  'invalid_device',
]);

export class DetectionError extends Error {
  readonly code: DetectionErrorCode;
  readonly retryable: boolean;

  constructor(code: DetectionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DetectionError';
    this.code = code;
    this.retryable = !NOT_RETRYABLE.has(code);
  }
}

export function isDetectionError(err: unknown): err is DetectionError {
  return err instanceof DetectionError;
}
