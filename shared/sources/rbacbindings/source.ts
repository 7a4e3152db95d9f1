import { listResource } from '../common/listResource.js';
import { arr, firstTime, obj, str } from '../../util/values.js';
import { clusterRead, kubeAccess, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { toRfc3339 } from '../../util/time.js';
import { RBAC_BINDINGS_TABLE } from './table.js';

/**
 * RoleBindings and ClusterRoleBindings, one row per subject, each labelled as what it is.
 * A binding without subjects still gets a row (empty subject) so it is not invisible.
 * Extra column `detail` says when a value was defaulted or is missing.
 */

export type BindingType = 'RoleBinding' | 'ClusterRoleBinding';

export function bindingRows(binding: Record<string, unknown>, type: BindingType, collectedAt: string): Row[] {
  const metadata = obj(binding.metadata);
  const roleRef = obj(binding.roleRef);
  const namespace = type === 'RoleBinding' ? str(metadata.namespace) : '';
  const base = {
    TimeGenerated: firstTime(metadata.creationTimestamp) ?? collectedAt,
    binding_type: type,
    binding_name: str(metadata.name),
    namespace,
    role_ref_kind: str(roleRef.kind),
    role_ref_name: str(roleRef.name),
    uid: str(metadata.uid),
  };
  const subjects = arr(binding.subjects).map(obj);
  if (subjects.length === 0) {
    return [{ ...base, subject_kind: '', subject_name: '', subject_namespace: '', detail: 'binding has no subjects' }];
  }
  return subjects.map((subject) => {
    const kind = str(subject.kind);
    let subjectNamespace = str(subject.namespace);
    let detail = '';
    if (kind === 'ServiceAccount' && subjectNamespace === '') {
      if (type === 'RoleBinding') {
        // The API server defaults a RoleBinding's ServiceAccount subject to the binding's namespace.
        subjectNamespace = namespace;
        detail = 'subject namespace defaulted to the binding namespace';
      } else {
        detail = 'ServiceAccount subject without a namespace: a ClusterRoleBinding must name it, so this subject matches no account';
      }
    }
    return { ...base, subject_kind: kind, subject_name: str(subject.name), subject_namespace: subjectNamespace, detail };
  });
}

async function* collectBindings(ctx: SourceContext): AsyncGenerator<SourceItem> {
  const listings: { type: BindingType; resource: string; namespaced: boolean }[] = [
    { type: 'RoleBinding', resource: 'rolebindings', namespaced: true },
    { type: 'ClusterRoleBinding', resource: 'clusterrolebindings', namespaced: false },
  ];
  for (const listing of listings) {
    for await (const item of listResource(ctx, {
      source: 'rbacbindings',
      groupVersionPath: '/apis/rbac.authorization.k8s.io/v1',
      resource: listing.resource,
      namespaced: listing.namespaced,
    })) {
      if (item.kind !== 'object') {
        yield item;
        continue;
      }
      yield { kind: 'raw', object: item.object };
      for (const row of bindingRows(item.object, listing.type, toRfc3339(ctx.clock()))) yield { kind: 'row', row };
    }
  }
}

export const rbacBindingsSource: SourceDefinition = {
  name: 'rbacbindings',
  description: 'RoleBindings and ClusterRoleBindings (labelled as such), one row per subject; bindings without subjects too.',
  tables: [RBAC_BINDINGS_TABLE],
  kubernetesAccess: [kubeAccess('list', 'rolebindings', { group: 'rbac.authorization.k8s.io' }), kubeAccess('list', 'clusterrolebindings', { group: 'rbac.authorization.k8s.io' })],
  azurePermissions: [
    clusterRead('rbac.authorization.k8s.io/rolebindings', 'list RoleBindings'),
    clusterRead('rbac.authorization.k8s.io/clusterrolebindings', 'list ClusterRoleBindings'),
  ],
  collect: collectBindings,
};
