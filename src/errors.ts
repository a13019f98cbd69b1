// One catalogue of the errors celery-pulse reports to its user, each with a stable code
// (the fastify FST_ERR_* habit): logs and tests match on the code, never on the wording.

export type ErrorCode =
  | 'CP_ERR_UNKNOWN_FLAG'
  | 'CP_ERR_FLAG_VALUE'
  | 'CP_ERR_MISSING_VALUE'
  | 'CP_ERR_FLAG_CONFLICT'
  | 'CP_ERR_CONFIG_FILE'
  | 'CP_ERR_BROKER_URL'
  | 'CP_ERR_LISTEN'
  | 'CP_ERR_WEB_CONFIG';

export class CeleryPulseError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'CeleryPulseError';
    this.code = code;
  }
}

export function configError(code: ErrorCode, message: string): CeleryPulseError {
  return new CeleryPulseError(code, message);
}
