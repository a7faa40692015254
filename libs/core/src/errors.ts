/** Base of every splitwatch error; `name` is set so Step Functions Retry/Catch can match it. */
export class SplitwatchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Configuration is missing or invalid; raised at start-up. */
export class ConfigError extends SplitwatchError {}

/** An input file cannot be read as a transaction log at all (wrong format, missing columns). */
export class InputFormatError extends SplitwatchError {}

/** An object the step needs is not in the object store. */
export class ObjectNotFoundError extends SplitwatchError {}

/** A query failed in the SQL engine (syntax, missing table, engine failure). */
export class QueryFailedError extends SplitwatchError {}

/** A transient failure worth retrying (throttling, timeouts, engine capacity). */
export class TransientError extends SplitwatchError {}

/** The results store rejected a statement. */
export class ResultsStoreError extends SplitwatchError {}
