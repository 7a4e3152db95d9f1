/**
 * The incident comment links the report sealed in the bundle: the status view a sealed run
 * answers carries its URL at the path the playbook reads, and the deployed playbook's comment
 * makes it a link (or says "not written" for a run sealed without one).
 */
import { PLAYBOOK_CONTRACT } from '../../infra/playbook.js';
import { runStatusView } from '../../shared/orchestration/runStatus.js';
import type { CollectionRunOutput } from '../../shared/orchestration/types.js';
import { committedTemplate, only, resourcesOfType } from '../infra/templateModel.js';

const seal = {
  runId: 'r'.repeat(32),
  caseId: 'case-1',
  location: 'https://acct.blob.core.windows.net/evidence/case-1/run',
  manifestPath: 'manifest.json',
  manifestSha256: 'f'.repeat(64),
  records: {},
  gaps: {},
  artifactCount: 3,
  chainHead: 'c'.repeat(64),
  sealRecordSha256: 'd'.repeat(64),
  sealedAt: '2024-01-01T00:10:00Z',
};
const output = (extra: object): CollectionRunOutput => ({
  runId: seal.runId,
  caseId: 'case-1',
  clusterResourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks',
  startedAt: '2024-01-01T00:00:00Z',
  endedAt: '2024-01-01T00:10:00Z',
  outcome: 'complete',
  seal: { ...seal, ...extra },
  tasks: { total: 1, complete: 1, partial: 0, failed: 0, skipped: 0 },
  failedTasks: [],
});
const at = (view: unknown, path: readonly string[]): unknown => path.reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], view);

test('a sealed run with a report answers its URL at the path the playbook reads; without one, nothing', () => {
  const view = runStatusView({ instanceId: seal.runId, runtimeStatus: 'Completed', createdTime: 'x', lastUpdatedTime: 'x', output: output({ reportPath: 'report.html' }) });
  expect(at(view, PLAYBOOK_CONTRACT.status.reportUrl)).toBe(`${seal.location}/report.html`);
  const without = runStatusView({ instanceId: seal.runId, runtimeStatus: 'Completed', createdTime: 'x', lastUpdatedTime: 'x', output: output({}) });
  expect(at(without, PLAYBOOK_CONTRACT.status.reportUrl)).toBeUndefined();
});

test('the deployed playbook comments with a link to the report, or says it was not written', () => {
  const workflow = only(resourcesOfType(committedTemplate(), 'Microsoft.Logic/workflows'), 'playbook');
  const text = JSON.stringify((workflow.properties as { definition: unknown }).definition);
  const path = "body('Get_run_status')?['evidence']?['reportUrl']";
  expect(text).toContain(`@{if(empty(${path}), 'not written', concat('<a href=\\"', ${path}`);
});
