import { spawnSync } from 'node:child_process';
import { HEAP_GROWING_PERCENT, tuneHeapForStreaming } from '../../shared/util/heapTuning.js';

describe('tuneHeapForStreaming', () => {
  test('sets the growing factor unless turned off or given on the command line', () => {
    expect(tuneHeapForStreaming({ AKS_EVIDENCE_HEAP_TUNING: 'off' }, [])).toBe(false);
    expect(tuneHeapForStreaming({ AKS_EVIDENCE_HEAP_TUNING: 'OFF' }, [])).toBe(false);
    expect(tuneHeapForStreaming({}, ['--heap-growing-percent=10'])).toBe(false);
    expect(tuneHeapForStreaming({}, ['--max-old-space-size=4096'])).toBe(true);
    expect(HEAP_GROWING_PERCENT).toBeGreaterThan(0);
  });

  test('V8 accepts the flag at run time (a process that sets it keeps running and collecting garbage)', () => {
    const script = `
      const v8 = require('node:v8');
      v8.setFlagsFromString('--heap-growing-percent=${HEAP_GROWING_PERCENT}');
      let keep = [];
      for (let i = 0; i < 200000; i++) { keep.push('x'.repeat(100) + i); if (keep.length > 1000) keep = []; }
      process.stdout.write('ok');`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok');
  });
});
