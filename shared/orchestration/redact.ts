import { redactSecrets } from '../util/redact.js';
import { AksEvidenceError } from '../util/errors.js';

/** An activity failure as it goes into history: a stable code and a redacted, bounded message; no cause chain. */
export class ActivityFailure extends AksEvidenceError {
  override name = 'ActivityFailure';
}

export function toActivityFailure(activity: string, error: unknown): ActivityFailure {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const firstLines = message.split('\n').slice(0, 3).join(' ').slice(0, 1000);
  return new ActivityFailure(typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) ? code : 'ERR_ACTIVITY', `${activity}: ${redactSecrets(firstLines)}`);
}
