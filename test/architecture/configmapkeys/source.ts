import { listResource } from '../../../shared/sources/common/listResource.js';
import { clusterRead, kubeAccess, type SourceContext, type SourceDefinition, type SourceItem } from '../../../shared/sources/types.js';
import { toRfc3339 } from '../../../shared/util/time.js';
import { firstTime, obj, str } from '../../../shared/util/values.js';
import { CONFIGMAP_KEYS_TABLE } from './table.js';

/**
 * A toy source, written the way the README's "add a source" says: this folder and one line in
 * a registry. It lists ConfigMaps and yields one row per data key, the key's value length, and
 * nothing of the value.
 */
async function* collect(ctx: SourceContext): AsyncGenerator<SourceItem> {
  for await (const item of listResource(ctx, { source: 'configmapkeys', groupVersionPath: '/api/v1', resource: 'configmaps', namespaced: true })) {
    if (item.kind !== 'object') {
      yield item;
      continue;
    }
    const metadata = obj(item.object.metadata);
    for (const [key, value] of Object.entries(obj(item.object['data']))) {
      yield {
        kind: 'row',
        row: {
          TimeGenerated: firstTime(metadata['creationTimestamp']) ?? toRfc3339(ctx.clock()),
          namespace: str(metadata['namespace']),
          configmap: str(metadata['name']),
          key,
          value_bytes: Buffer.byteLength(str(value)),
        },
      };
    }
  }
}

export const configMapKeysSource: SourceDefinition = {
  name: 'configmapkeys',
  description: 'ConfigMap keys in every namespace, one row per key, values never copied.',
  tables: [CONFIGMAP_KEYS_TABLE],
  kubernetesAccess: [kubeAccess('list', 'configmaps')],
  azurePermissions: [clusterRead('configmaps', 'list ConfigMaps for their keys')],
  collect,
};
