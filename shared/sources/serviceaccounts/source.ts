import { listResource } from '../common/listResource.js';
import { arr, firstTime, obj, str } from '../../util/values.js';
import { redactedMapJson } from '../../util/valueRedaction.js';
import { clusterRead, kubeAccess, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { toRfc3339 } from '../../util/time.js';
import { SERVICE_ACCOUNTS_TABLE } from './table.js';

/** Service accounts from every namespace: token automount, pull secrets, secret references, workload identity. */

export const WORKLOAD_IDENTITY_CLIENT_ID = 'azure.workload.identity/client-id';

export function serviceAccountRow(sa: Record<string, unknown>, collectedAt: string): Row {
  const metadata = obj(sa.metadata);
  const annotations = obj(metadata.annotations);
  const automount = sa.automountServiceAccountToken;
  return {
    TimeGenerated: firstTime(metadata.creationTimestamp) ?? collectedAt,
    namespace: str(metadata.namespace),
    name: str(metadata.name),
    automount_service_account_token: automount === true ? 'true' : automount === false ? 'false' : 'unset',
    image_pull_secrets: JSON.stringify(arr(sa.imagePullSecrets).map((s) => str(obj(s).name))),
    secrets: JSON.stringify(arr(sa.secrets).map((s) => str(obj(s).name))),
    annotations: redactedMapJson(metadata.annotations),
    workload_identity_client_id: str(annotations[WORKLOAD_IDENTITY_CLIENT_ID]),
    uid: str(metadata.uid),
  };
}

async function* collectServiceAccounts(ctx: SourceContext): AsyncGenerator<SourceItem> {
  for await (const item of listResource(ctx, {
    source: 'serviceaccounts',
    groupVersionPath: '/api/v1',
    resource: 'serviceaccounts',
    namespaced: true,
  })) {
    if (item.kind !== 'object') {
      yield item;
      continue;
    }
    yield { kind: 'raw', object: item.object };
    yield { kind: 'row', row: serviceAccountRow(item.object, toRfc3339(ctx.clock())) };
  }
}

export const serviceAccountsSource: SourceDefinition = {
  name: 'serviceaccounts',
  description: 'Service accounts in every namespace: token automount, image pull secrets, secret references, annotations (workload identity client ids).',
  tables: [SERVICE_ACCOUNTS_TABLE],
  kubernetesAccess: [kubeAccess('list', 'serviceaccounts')],
  azurePermissions: [clusterRead('serviceaccounts', 'list service accounts')],
  collect: collectServiceAccounts,
};
