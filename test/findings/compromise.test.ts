/**
 * The compromise scenario (shared/simulator/kube/scenarios/compromise.yaml) analyzed offline: the
 * issue's "done when" — the anonymous cluster-admin binding, the privileged host-root pod, and
 * the risky service accounts with their granting paths.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { registerAnalyzeCommand } from '../../shared/cli/analyze.js';
import { analyzeRbac, grantPathText } from '../../shared/findings/rbac.js';
import type { K8sObject, RbacFinding } from '../../shared/findings/types.js';
import { analyzeWorkloads } from '../../shared/findings/workloads.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { summary } from './build.js';

let objects: K8sObject[];
beforeAll(async () => {
  const scenario = await loadScenario('compromise', { shift: false });
  objects = scenario.objects;
});

const forSubject = (findings: RbacFinding[], kind: string, name: string, namespace?: string) =>
  findings.filter((f) => f.subject.kind === kind && f.subject.name === name && (namespace === undefined || f.subject.namespace === namespace) && !f.expected);

describe('compromise scenario, offline', () => {
  test('the anonymous cluster-admin binding: system:anonymous and system:unauthenticated, critical, not expected', () => {
    const { findings } = analyzeRbac(objects);
    expect(summary(findings, 'rbac.cluster-admin').filter((s) => s.includes('anonymous-admin'))).toEqual([
      'Group:system:unauthenticated|ClusterRoleBinding:anonymous-admin|*|critical',
      'User:system:anonymous|ClusterRoleBinding:anonymous-admin|*|critical',
    ]);
    const anon = findings.find((f) => f.ruleId === 'rbac.cluster-admin' && f.subject.name === 'system:anonymous')!;
    expect(anon.expected).toBe(false);
    expect(grantPathText(anon.grant)).toBe('ClusterRoleBinding anonymous-admin → ClusterRole cluster-admin → rule 0');
    expect(anon.createdAt).toBe('2024-06-01T10:30:00Z');
    expect(summary(findings, 'rbac.public-binding').filter((s) => s.includes('anonymous-admin'))).toHaveLength(2);
    // The default cluster-admin binding of system:masters is there, marked expected.
    expect(findings.find((f) => f.ruleId === 'rbac.cluster-admin' && f.subject.name === 'system:masters')?.expected).toBe(true);
  });

  test('the node-agent service account: secrets, exec, pod creation and node proxy, with its path and the workloads running as it', () => {
    const { findings } = analyzeRbac(objects);
    const agent = forSubject(findings, 'ServiceAccount', 'node-agent', 'kube-sys-tools');
    expect(agent.map((f) => `${f.ruleId}|${f.severity}|${grantPathText(f.grant)}`).sort()).toEqual([
      'rbac.node-proxy|high|ClusterRoleBinding node-agent-role → ClusterRole node-agent-role → rule 2',
      'rbac.pod-exec|high|ClusterRoleBinding node-agent-role → ClusterRole node-agent-role → rule 1',
      'rbac.secrets-read|high|ClusterRoleBinding node-agent-role → ClusterRole node-agent-role → rule 0',
      'rbac.workload-create|high|ClusterRoleBinding node-agent-role → ClusterRole node-agent-role → rule 1',
    ]);
    const workloads = agent[0]!.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name}`).sort();
    expect(workloads).toEqual(['DaemonSet kube-sys-tools/node-agent', 'Pod kube-sys-tools/node-agent-b7c6d', 'Pod kube-sys-tools/node-agent-x9z8y']);
  });

  test('the dev toolbox service account (subject without namespace) through edit, namespaced to dev, aggregated paths', () => {
    const { findings } = analyzeRbac(objects);
    const toolbox = forSubject(findings, 'ServiceAccount', 'toolbox', 'dev');
    expect(new Set(toolbox.map((f) => f.ruleId))).toEqual(new Set(['rbac.secrets-read', 'rbac.pod-exec', 'rbac.workload-create']));
    expect(toolbox.every((f) => f.scopeNamespace === 'dev' && f.grant.bindingName === 'toolbox-edit' && f.grant.roleName === 'edit')).toBe(true);
    const paths = toolbox.filter((f) => f.ruleId === 'rbac.secrets-read').map((f) => grantPathText(f.grant));
    // Secrets through edit's aggregation: the default aggregate-to-edit rules and the attacker's
    // metrics-viewer-ext, aggregated into view, which is aggregated into edit.
    expect(paths).toEqual(expect.arrayContaining([expect.stringContaining('aggregated from view → metrics-viewer-ext')]));
    expect(toolbox.find((f) => f.ruleId === 'rbac.pod-exec')!.workloads.map((w) => w.name)).toEqual(expect.arrayContaining(['dev-toolbox']));
  });

  test('the privileged host-root pods and their DaemonSet, with exact field paths', () => {
    const { findings } = analyzeWorkloads(objects);
    const pod = findings.filter((f) => f.kind === 'Pod' && f.name === 'node-agent-x9z8y');
    expect(pod.map((f) => `${f.ruleId}|${f.severity}|${f.fieldPath}`)).toEqual(
      expect.arrayContaining([
        'workload.privileged|high|spec.containers[0].securityContext.privileged',
        'workload.sensitive-host-path|high|spec.volumes[0].hostPath.path',
        'workload.runtime-socket|high|spec.volumes[1].hostPath.path',
        'workload.host-pid|high|spec.hostPID',
        'workload.host-network|medium|spec.hostNetwork',
        'workload.dangerous-capability|high|spec.containers[0].securityContext.capabilities.add[0]',
        'workload.untrusted-registry|medium|spec.containers[0].image',
      ]),
    );
    expect(pod.find((f) => f.ruleId === 'workload.sensitive-host-path')!.details).toContain('host /');
    expect(pod.every((f) => f.serviceAccount === 'node-agent' && f.owner === 'DaemonSet/node-agent')).toBe(true);
    const ds = findings.filter((f) => f.kind === 'DaemonSet' && f.name === 'node-agent').map((f) => f.fieldPath);
    expect(ds).toEqual(expect.arrayContaining(['spec.template.spec.containers[0].securityContext.privileged', 'spec.template.spec.volumes[0].hostPath.path']));
  });

  test('the curl | sh CronJob from an unknown registry', () => {
    const { findings } = analyzeWorkloads(objects);
    const cron = findings.filter((f) => f.kind === 'CronJob' && f.name === 'cleanup').map((f) => `${f.ruleId}|${f.containerName}|${f.fieldPath}`);
    expect(cron).toEqual(
      expect.arrayContaining([
        'workload.suspicious-command|runner|spec.jobTemplate.spec.template.spec.containers[0].args[0]',
        'workload.untrusted-registry|runner|spec.jobTemplate.spec.template.spec.containers[0].image',
        'workload.untrusted-registry|fetch|spec.jobTemplate.spec.template.spec.initContainers[0].image',
      ]),
    );
  });

  test('through the CLI, from a kubectl List dump of the scenario', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compromise-analyze-'));
    try {
      await writeFile(join(dir, 'dump.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
      const out = new PassThrough();
      const err = new PassThrough();
      const chunks: Buffer[] = [];
      const errChunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      err.on('data', (c: Buffer) => errChunks.push(c));
      let code = -1;
      const program = new Command().exitOverride();
      registerAnalyzeCommand(program, { stdout: out, stderr: err, env: {}, cwd: dir }, (c) => (code = c));
      await program.parseAsync(['analyze', 'dump.json', '--severity', 'high'], { from: 'user' });
      const text = Buffer.concat(chunks).toString('utf8');
      expect(code).toBe(0);
      const lines = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>);
      expect(lines.find((l) => l.ruleId === 'rbac.cluster-admin' && l.subject.name === 'system:anonymous')).toMatchObject({
        binding: { name: 'anonymous-admin' },
        severity: 'critical',
      });
      expect(lines.find((l) => l.ruleId === 'workload.sensitive-host-path' && l.object.name === 'node-agent-x9z8y')).toMatchObject({ fieldPath: 'spec.volumes[0].hostPath.path' });
      expect(lines.filter((l) => l.type === 'rbac' && l.subject.name === 'node-agent').length).toBe(4);
      // No Secret value of the scenario (CANARY strings) reaches the output.
      expect(text + Buffer.concat(errChunks).toString('utf8')).not.toMatch(/CANARY|Q0FOQVJZ/); // base64 of "CANARY"
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
