/** Small builders for hand-written Kubernetes objects in the findings tests. */
import type { K8sObject, RbacFinding, SubjectRef } from '../../shared/findings/types.js';

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

const RBAC = 'rbac.authorization.k8s.io/v1';

export function clusterRole(name: string, rules: Rule[], extra: { labels?: Record<string, string>; aggregate?: Record<string, string>[] } = {}): K8sObject {
  return {
    apiVersion: RBAC,
    kind: 'ClusterRole',
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}) },
    ...(extra.aggregate ? { aggregationRule: { clusterRoleSelectors: extra.aggregate.map((m) => ({ matchLabels: m })) } } : {}),
    rules,
  };
}

export function role(namespace: string, name: string, rules: Rule[]): K8sObject {
  return { apiVersion: RBAC, kind: 'Role', metadata: { name, namespace }, rules };
}

export function crb(name: string, roleName: string, subjects: SubjectRef[], createdAt?: string): K8sObject {
  return {
    apiVersion: RBAC,
    kind: 'ClusterRoleBinding',
    metadata: { name, ...(createdAt ? { creationTimestamp: createdAt } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
    subjects: subjects.map(subjectObject),
  };
}

export function rb(namespace: string, name: string, roleRef: { kind: 'Role' | 'ClusterRole'; name: string }, subjects: SubjectRef[]): K8sObject {
  return {
    apiVersion: RBAC,
    kind: 'RoleBinding',
    metadata: { name, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
    subjects: subjects.map(subjectObject),
  };
}

function subjectObject(s: SubjectRef): Record<string, string> {
  return s.kind === 'ServiceAccount'
    ? { kind: 'ServiceAccount', name: s.name, ...(s.namespace ? { namespace: s.namespace } : {}) }
    : { apiGroup: 'rbac.authorization.k8s.io', kind: s.kind, name: s.name };
}

export const user = (name: string): SubjectRef => ({ kind: 'User', name });
export const group = (name: string): SubjectRef => ({ kind: 'Group', name });
export const sa = (namespace: string, name: string): SubjectRef => ({ kind: 'ServiceAccount', name, namespace });

export function pod(namespace: string, name: string, spec: Record<string, unknown>): K8sObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec };
}

export function deployment(namespace: string, name: string, podSpec: Record<string, unknown>): K8sObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { replicas: 1, template: { spec: podSpec } } };
}

/** Findings of one rule, as "subject|binding|scope|severity" strings for readable assertions. */
export function summary(findings: readonly RbacFinding[], ruleId: string): string[] {
  return findings
    .filter((f) => f.ruleId === ruleId)
    .map(
      (f) =>
        `${f.subject.kind}:${f.subject.namespace ? `${f.subject.namespace}/` : ''}${f.subject.name}|${f.grant.bindingKind}:${f.grant.bindingNamespace ? `${f.grant.bindingNamespace}/` : ''}${f.grant.bindingName}|${f.scopeNamespace}|${f.severity}`,
    )
    .sort();
}
