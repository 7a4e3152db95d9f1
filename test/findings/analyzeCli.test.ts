import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { registerAnalyzeCommand } from '../../shared/cli/analyze.js';
import type { CliIo } from '../../shared/cli/io.js';

const FIXTURES = join(process.cwd(), 'test/fixtures/findings');
const SECRET_VALUES = ['U3VwZXJTZWNyZXRQYXNzd29yZDEyMw==', 'SuperSecretPassword123', 'dG9rZW4tdmFsdWUtdGhhdC1tdXN0LW5vdC1sZWFr'];

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Run `aks-evidence analyze …` in process through commander, with captured stdout/stderr. */
async function analyze(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const io: CliIo = { stdout: out.stream, stderr: err.stream, env: {}, cwd: FIXTURES };
  let code = -1;
  const program = new Command().exitOverride();
  registerAnalyzeCommand(program, io, (c) => {
    code = c;
  });
  await program.parseAsync(['analyze', ...args], { from: 'user' });
  return { code, stdout: out.text(), stderr: err.text() };
}

const parseLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

describe('aks-evidence analyze', () => {
  test('multi-document YAML: NDJSON, one finding per line, with subject, granting path, workloads and field paths', async () => {
    const { code, stdout, stderr } = await analyze(['risky-cluster.yaml']);
    expect(code).toBe(0);
    const lines = parseLines(stdout);

    const admin = lines.find((l) => l.ruleId === 'rbac.cluster-admin');
    expect(admin).toMatchObject({
      type: 'rbac',
      severity: 'critical',
      subject: { kind: 'User', name: 'system:anonymous' },
      scope: '*',
      object: { kind: 'ClusterRoleBinding', name: 'anonymous-admin' },
      binding: { kind: 'ClusterRoleBinding', name: 'anonymous-admin' },
      role: { kind: 'ClusterRole', name: 'cluster-admin' },
      fieldPath: 'rules[0]',
      grantPath: 'ClusterRoleBinding anonymous-admin → ClusterRole cluster-admin → rule 0',
      expected: false,
    });
    expect(lines.find((l) => l.ruleId === 'rbac.public-binding')).toMatchObject({ severity: 'critical', subject: { name: 'system:anonymous' } });

    const secrets = lines.find((l) => l.ruleId === 'rbac.secrets-read');
    expect(secrets).toMatchObject({
      severity: 'high',
      subject: { kind: 'ServiceAccount', namespace: 'ci', name: 'deployer' },
      grantPath: 'ClusterRoleBinding ci-reads-secrets → ClusterRole secret-reader → rule 0',
      workloads: ['Deployment ci/pipeline (deployer)'],
      workloadCount: 1,
    });

    const privileged = lines.find((l) => l.ruleId === 'workload.privileged');
    expect(privileged).toMatchObject({
      type: 'workload',
      severity: 'high',
      object: { kind: 'DaemonSet', namespace: 'monitoring', name: 'node-agent' },
      container: 'agent',
      containerType: 'container',
      fieldPath: 'spec.template.spec.containers[1].securityContext.privileged',
    });
    expect(lines.filter((l) => l.type === 'workload').map((l) => l.ruleId)).toEqual(
      expect.arrayContaining(['workload.host-pid', 'workload.sensitive-host-path', 'workload.host-path']),
    );
    expect(lines.find((l) => l.ruleId === 'workload.sensitive-host-path')!.fieldPath).toBe('spec.template.spec.volumes[0].hostPath.path');

    expect(stderr).toMatch(/analyzed 8 object\(s\) from 1 file\(s\)/);
    for (const secret of SECRET_VALUES) {
      expect(stdout).not.toContain(secret);
      expect(stderr).not.toContain(secret);
    }
  });

  test('kubectl List JSON: a namespaced exec grant and a workload finding', async () => {
    const { code, stdout, stderr } = await analyze(['kubectl-list.json']);
    expect(code).toBe(0);
    const lines = parseLines(stdout);
    expect(lines.map((l) => `${l.ruleId}|${l.severity}`)).toEqual(['rbac.pod-exec|medium', 'workload.allow-privilege-escalation|medium']);
    expect(lines[0]).toMatchObject({
      subject: { kind: 'Group', name: 'dev-team' },
      scope: 'dev',
      binding: { kind: 'RoleBinding', namespace: 'dev', name: 'debuggers' },
      role: { kind: 'Role', name: 'debugger' },
      resources: ['pods/exec', 'pods/attach'],
    });
    expect(lines[1]).toMatchObject({
      object: { kind: 'Pod', namespace: 'dev', name: 'web-0' },
      container: 'web',
      fieldPath: 'spec.containers[0].securityContext.allowPrivilegeEscalation',
    });
    for (const secret of SECRET_VALUES) expect(stdout + stderr).not.toContain(secret);
  });

  test('--format table: aligned columns', async () => {
    const { code, stdout } = await analyze(['risky-cluster.yaml', 'kubectl-list.json', '--format', 'table']);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const header = lines.find((l) => l.startsWith('SEVERITY') && l.includes('GRANTED BY'))!;
    const headerAt = lines.indexOf(header);
    const ruleColumn = header.indexOf('RULE');
    const subjectColumn = header.indexOf('SUBJECT');
    const rows = lines.slice(headerAt + 2).filter((l) => /^(CRITICAL|HIGH|MEDIUM|LOW|INFO)/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows.slice(0, 3)) {
      expect(row.slice(ruleColumn)).toMatch(/^rbac\./);
      expect(row[subjectColumn - 1]).toBe(' ');
    }
    expect(stdout).toContain('Workload findings');
    expect(stdout).toContain('spec.template.spec.containers[1].securityContext.privileged');
  });

  test('--severity keeps the more severe findings only', async () => {
    const { stdout } = await analyze(['risky-cluster.yaml', '--severity', 'critical']);
    expect(
      parseLines(stdout)
        .map((l) => l.ruleId)
        .sort(),
    ).toEqual(['rbac.cluster-admin', 'rbac.public-binding']);
  });

  test('default bindings are hidden unless --include-expected', async () => {
    const hidden = await analyze(['fresh-cluster-rbac.yaml']);
    expect(hidden.code).toBe(0);
    expect(parseLines(hidden.stdout).filter((l) => l.type === 'rbac')).toEqual([]);
    expect(hidden.stderr).toMatch(/expected default-binding finding\(s\) hidden \(--include-expected shows them\)/);
    const shown = await analyze(['fresh-cluster-rbac.yaml', '--include-expected']);
    const rbac = parseLines(shown.stdout).filter((l) => l.type === 'rbac');
    expect(rbac.length).toBeGreaterThan(15);
    expect(rbac.every((l) => l.expected === true && typeof l.expectedReason === 'string')).toBe(true);
  });

  test('unreadable input: exit 2, named with its line, the readable files still analyzed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'analyze-cli-'));
    try {
      await writeFile(join(dir, 'broken.yaml'), 'kind: Pod\nmetadata:\n  name: [oops\n');
      const { code, stdout, stderr } = await analyze([join(dir, 'broken.yaml'), 'kubectl-list.json', join(dir, 'absent.json')]);
      expect(code).toBe(2);
      expect(parseLines(stdout).length).toBe(2);
      // The parser reports where it gave up: the end of the unclosed sequence.
      expect(stderr).toContain(`error: ${join(dir, 'broken.yaml')} (document 1, line 4): invalid YAML`);
      expect(stderr).toContain(`error: ${join(dir, 'absent.json')}: cannot read: ENOENT`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('nothing loadable: exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'analyze-cli-'));
    try {
      await writeFile(join(dir, 'notk8s.json'), '{"hello": "world"}');
      const { code, stderr } = await analyze([join(dir, 'notk8s.json')]);
      expect(code).toBe(2);
      expect(stderr).toContain('not a Kubernetes object: missing kind');
      expect(stderr).toContain('no Kubernetes objects could be read');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad flags are input errors', async () => {
    await expect(analyze(['kubectl-list.json', '--severity', 'urgent'])).rejects.toMatchObject({ code: 'ERR_INPUT', field: '--severity' });
    await expect(analyze(['kubectl-list.json', '--format', 'xml'])).rejects.toMatchObject({ field: '--format' });
  });

  test('registry allow-list flags', async () => {
    const strict = await analyze(['kubectl-list.json', '--allowed-registries', 'myacr.azurecr.io']);
    expect(
      parseLines(strict.stdout)
        .filter((l) => l.ruleId === 'workload.untrusted-registry')
        .map((l) => l.fieldPath),
    ).toEqual(['spec.containers[0].image']);
    const off = await analyze(['kubectl-list.json', '--allowed-registries', 'myacr.azurecr.io', '--no-registry-check']);
    expect(parseLines(off.stdout).filter((l) => l.ruleId === 'workload.untrusted-registry')).toEqual([]);
  });
});
