/** The scenario loader: file lookup, audit sibling, and the time shift. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, shiftHistory, shiftTime } from '../../shared/simulator/kube/loadScenario.js';

describe('loadScenario', () => {
  test('shifts every RFC 3339 time and history epoch by now - referenceTime, keeping fractions', async () => {
    const now = new Date('2030-01-02T03:04:05Z');
    const s = await loadScenario('compromise', { now });
    expect(s.referenceTime).toBe('2030-01-02T03:04:05Z');
    const delta = (now.getTime() - Date.parse('2024-06-01T12:00:00Z')) / 1000;
    const crb = s.objects.find((o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === 'anonymous-admin')!;
    expect(crb.metadata.creationTimestamp).toBe(new Date(Date.parse('2024-06-01T10:30:00Z') + delta * 1000).toISOString().replace('.000Z', 'Z'));
    const line = s.logs!['prod/api-5f6d7c8b9-klmno/api']!.current![9]!;
    expect(line.time).toBe(`${new Date(Date.parse('2024-06-01T11:59:00Z') + delta * 1000).toISOString().slice(0, 19)}.000000001Z`);
    const hist = s.containers!['prod/api-5f6d7c8b9-klmno/api']!.files!['/root/.bash_history']!;
    expect(hist.split('\n')[0]).toBe(`#${1717236000 + delta}`);
    const zsh = s.containers!['dev/dev-toolbox-7c8d9e0f1-pqrst/toolbox']!.files!['/home/dev/.zsh_history']!;
    expect(zsh.split('\n')[0]).toBe(`: ${1717232400 + delta}:0;kubectl get pods -A`);
    // Non-time strings are untouched.
    expect(s.objects.find((o) => o.kind === 'CronJob' && o.metadata.name === 'cleanup')!['spec']).toMatchObject({ schedule: '*/15 * * * *' });
  });

  test('shift: false keeps the file as written; default now is recent', async () => {
    const raw = await loadScenario('compromise', { shift: false });
    expect(raw.referenceTime).toBe('2024-06-01T12:00:00Z');
    const recent = await loadScenario('compromise');
    expect(Math.abs(Date.parse(recent.referenceTime!) - Date.now())).toBeLessThan(86_400_000);
  });

  test('helpers', () => {
    expect(shiftTime('2024-01-01T00:00:00.123456Z', 61)).toBe('2024-01-01T00:01:01.123456Z');
    expect(shiftTime('not a time', 5)).toBe('not a time');
    expect(shiftHistory('#1700000000\nls\n: 1700000001:0;pwd\n#12\n', 10)).toBe('#1700000010\nls\n: 1700000011:0;pwd\n#12\n');
  });

  test('JSON by path, with a sibling audit file attached', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scn-'));
    await writeFile(join(dir, 'tiny.json'), JSON.stringify({ name: 'tiny', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }] }));
    await writeFile(join(dir, 'tiny.audit.ndjson'), '{"kind":"Event","verb":"get"}\n\n{"kind":"Event","verb":"list"}\n');
    const s = await loadScenario(join(dir, 'tiny.json'));
    expect(s.objects.length).toBe(1);
    expect(s.audit).toEqual([
      { kind: 'Event', verb: 'get' },
      { kind: 'Event', verb: 'list' },
    ]);
    await expect(loadScenario('does-not-exist')).rejects.toThrow(/no scenario "does-not-exist"/);
  });
});
