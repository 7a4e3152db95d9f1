import type { K8sObject, WorkloadRef } from './types.js';

/** Where each workload kind keeps its pod spec, as a field path prefix. */
export const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  PodTemplate: ['template', 'spec'],
};

export interface PodSpecLocation {
  spec: Record<string, unknown>;
  /** e.g. 'spec.template.spec' */
  prefix: string;
}

/** The pod spec of a workload object and its field path, or undefined for other kinds. */
export function podSpecOf(object: K8sObject): PodSpecLocation | undefined {
  const keys = POD_SPEC_PATHS[object.kind];
  return keys ? specAt(object, keys) : undefined;
}

/**
 * The pod spec of any object that has one: the known workload kinds, and any other kind with a
 * `spec.template.spec` (custom workload controllers), for inventories such as the snapshot.
 */
export function anyPodSpecOf(object: Record<string, unknown>): Record<string, unknown> | undefined {
  const keys = typeof object.kind === 'string' ? POD_SPEC_PATHS[object.kind] : undefined;
  return specAt(object, keys ?? ['spec', 'template', 'spec'])?.spec;
}

function specAt(object: object, keys: readonly string[]): PodSpecLocation | undefined {
  let node: unknown = object;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  return { spec: node as Record<string, unknown>, prefix: keys.join('.') };
}

/** The service account the pods run as: serviceAccountName, the deprecated serviceAccount, else 'default'. */
export function serviceAccountOf(spec: Record<string, unknown>): string {
  const name = spec.serviceAccountName ?? spec.serviceAccount;
  return typeof name === 'string' && name !== '' ? name : 'default';
}

/** Every workload object in the input with the service account its pods run as. */
export function workloadRefs(objects: readonly K8sObject[]): WorkloadRef[] {
  const refs: WorkloadRef[] = [];
  for (const object of objects) {
    const location = podSpecOf(object);
    if (!location) continue;
    refs.push({
      kind: object.kind,
      namespace: object.metadata.namespace ?? 'default',
      name: object.metadata.name,
      serviceAccount: serviceAccountOf(location.spec),
    });
  }
  return refs;
}

/** "Kind/name" of the controlling owner, when the object has one. */
export function controllerOwner(object: K8sObject): string | undefined {
  const refs = object.metadata.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  const owner = refs.find((r) => r.controller) ?? refs[0];
  return owner?.kind && owner.name ? `${owner.kind}/${owner.name}` : undefined;
}
