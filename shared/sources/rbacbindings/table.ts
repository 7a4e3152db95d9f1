import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const RBAC_BINDINGS_TABLE: TableDefinition = {
  name: 'rbacbindings_CL',
  source: 'rbacbindings',
  description: 'RoleBindings and ClusterRoleBindings, one row per subject.',
  columns: [
    timeGenerated(),
    c('binding_type', 'string', 'RoleBinding | ClusterRoleBinding.'),
    c('binding_name', 'string', 'Binding name.'),
    c('namespace', 'string', 'Binding namespace (empty for ClusterRoleBinding).'),
    c('subject_kind', 'string', 'User | Group | ServiceAccount.'),
    c('subject_name', 'string', 'Subject name.'),
    c('subject_namespace', 'string', 'ServiceAccount namespace (defaulted to the binding namespace for RoleBindings).'),
    c('role_ref_kind', 'string', 'Role | ClusterRole.'),
    c('role_ref_name', 'string', 'Role name.'),
    c('uid', 'string', 'Binding uid.'),
    c('detail', 'string', 'Why a value is defaulted or missing (e.g. subject namespace defaulted; binding without subjects).'),
  ],
  timeline: { eventType: 'RbacBinding', namespace: 'namespace', summary: 'binding_name' },
};
