import { KubeApiError } from '../../shared/cluster/kubeApi.js';
import { backoffDelay, classifyForRetry, RetriesExhaustedError, sleep, withRetry } from '../../shared/cluster/retry.js';
import { parseRetryAfter } from '../../shared/util/retryAfter.js';

const apiError = (status: number, retryAfterInMs?: number): KubeApiError =>
  new KubeApiError({ status, path: '/api/v1/pods', message: `HTTP ${status}`, ...(retryAfterInMs !== undefined ? { retryAfterInMs } : {}) });

describe('retry', () => {
  test('retries 429/5xx with the server-requested or backoff delay, then succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls === 1) throw apiError(429, 7);
        if (calls === 2) throw apiError(503);
        return 'ok';
      },
      { baseDelayInMs: 1, random: () => 0.5, onRetry: (i) => delays.push(i.delayInMs) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    // Retry-After (7 ms) honoured; then backoff: ceiling 2 ms at attempt 2, 0.1 + 0.9 * 0.5 = 55 % of it.
    expect(delays).toEqual([7, 1]);
  });

  test('non-retryable errors fail at once; exhausted retries carry the attempt count and cause', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw apiError(403);
      }),
    ).rejects.toMatchObject({ status: 403 });
    expect(calls).toBe(1);

    const error = await withRetry(() => Promise.reject(apiError(500)), { maxAttempts: 3, baseDelayInMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(3);
    expect((error as RetriesExhaustedError).lastError).toMatchObject({ status: 500 });
    expect((error as Error).message).toBe('gave up after 3 attempts: HTTP 500');
  });

  test('connection resets are retried, aborts are not', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classifyForRetry(reset).retryable).toBe(true);
    expect(classifyForRetry(new Error('fetch failed', { cause: reset })).retryable).toBe(true);
    expect(classifyForRetry(new KubeApiError({ status: 0, path: '/x', message: 'x' }, { cause: reset })).retryable).toBe(true);
    expect(classifyForRetry(new DOMException('aborted', 'AbortError')).retryable).toBe(false);
    expect(classifyForRetry(new Error('bug')).retryable).toBe(false);
  });

  test('an abort during the backoff wait rejects with the abort reason', async () => {
    const controller = new AbortController();
    const pending = withRetry(() => Promise.reject(apiError(429, 60_000)), { abortSignal: controller.signal });
    setImmediate(() => controller.abort(new Error('stop now')));
    await expect(pending).rejects.toThrow('stop now');
    await expect(sleep(10, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('Retry-After parsing and backoff bounds', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    for (let attempt = 1; attempt < 20; attempt++) {
      expect(backoffDelay(attempt, { random: () => 0.999 })).toBeLessThanOrEqual(5000);
      expect(backoffDelay(attempt, { random: () => 0 })).toBeGreaterThan(0);
    }
  });
});
