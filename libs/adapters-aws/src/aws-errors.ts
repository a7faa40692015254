/**
 * Classifies AWS SDK errors. Only what the adapters need to decide between "retry later" (TransientError,
 * which the state machine retries) and "this will fail again" (the adapter's own error class).
 */

/** Error names AWS services use for throttling and short-lived unavailability. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'InternalServerException',
  'RequestTimeout',
  'RequestTimeoutException',
  // Redshift Data API: too many concurrent statements or sessions, cluster paused or resuming.
  'ActiveStatementsExceededException',
  'ActiveSessionsExceededException',
  'DatabaseConnectionException',
]);

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'SlowDown',
]);

interface AwsErrorShape {
  name?: string;
  message?: string;
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

function shape(err: unknown): AwsErrorShape {
  return typeof err === 'object' && err !== null ? (err as AwsErrorShape) : {};
}

/** The error's `name` (e.g. `NoSuchKey`), or `undefined` when it is not an Error-like object. */
export function awsErrorName(err: unknown): string | undefined {
  return shape(err).name;
}

/** `Name: message` for error messages that wrap an SDK error. */
export function describeAwsError(err: unknown): string {
  const { name, message } = shape(err);
  if (name === undefined && message === undefined) return String(err);
  return message ? `${name ?? 'Error'}: ${message}` : (name ?? 'Error');
}

/** True for throttling (the caller should slow down, not give up). */
export function isThrottlingError(err: unknown): boolean {
  const e = shape(err);
  return (
    THROTTLING_NAMES.has(e.name ?? '') ||
    e.$retryable?.throttling === true ||
    e.$metadata?.httpStatusCode === 429
  );
}

/** True for throttling and server-side failures worth retrying later. */
export function isTransientAwsError(err: unknown): boolean {
  const e = shape(err);
  const status = e.$metadata?.httpStatusCode;
  return (
    TRANSIENT_NAMES.has(e.name ?? '') ||
    isThrottlingError(err) ||
    (status !== undefined && status >= 500 && status < 600)
  );
}

/** Collapses whitespace and truncates SQL so an error message can say which statement failed. */
export function sqlSnippet(sql: string, max = 200): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
