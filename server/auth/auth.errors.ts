import { CorralError, ErrorCode } from '../app/errors';

export const wrongCredentials = () => new CorralError(ErrorCode.UNAUTHENTICATED, 'Wrong email or password');
export const tooManyAttempts = (retryAfterSeconds: number) =>
  new CorralError(ErrorCode.RATE_LIMITED, 'Too many sign-in attempts; try again later', { retryAfterSeconds });
export const permissionsExceedCaller = (missing: string[]) =>
  new CorralError(ErrorCode.FORBIDDEN, 'A token cannot hold permissions its creator lacks', { field: 'permissions', missing });
