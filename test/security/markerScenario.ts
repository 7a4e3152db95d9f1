/**
 * A simulated cluster seeded with marker secrets: a distinct string in every place a secret
 * hides in a real cluster — Secret data and its last-applied copy, env values of every pod
 * spec and pod template kind (and a custom resource embedding one), a last-applied annotation
 * repeating env values, annotations holding serialized objects (JSON and YAML), ConfigMap
 * values — so a test can grep everything the collector produces for each one.
 */
import type { KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';

const m = (name: string): string => `MKR-${name}-c0ffee42`;

/** Markers that must never leave the cluster, whatever the user asks. */
export const ALWAYS_SECRET = {
  secretData: m('SECRET-DATA'),
  secretStringData: m('SECRET-LASTAPPLIED'),
  configMapValue: m('CONFIGMAP-VALUE'),
  configMapLastApplied: m('CONFIGMAP-LASTAPPLIED'),
};

/** Env values (and their copies in last-applied annotations): raw artifacts only when the user keeps env values. */
export const ENV_VALUES = {
  pod: m('ENV-POD'),
  podInit: m('ENV-POD-INIT'),
  podEphemeral: m('ENV-POD-EPHEMERAL'),
  podLastApplied: m('ENV-POD-LASTAPPLIED'),
  deployment: m('ENV-DEPLOYMENT'),
  deploymentLastApplied: m('ENV-DEPLOYMENT-LASTAPPLIED'),
  daemonSet: m('ENV-DAEMONSET'),
  statefulSet: m('ENV-STATEFULSET'),
  replicaSet: m('ENV-REPLICASET'),
  job: m('ENV-JOB'),
  cronJob: m('ENV-CRONJOB'),
  replicationController: m('ENV-RC'),
  podTemplate: m('ENV-PODTEMPLATE'),
  customResource: m('ENV-ROLLOUT'),
};

/** Annotations holding serialized objects: hashed in rows always, in raw objects unless env values are kept. */
export const SERIALIZED_ANNOTATIONS = {
  podJson: m('ANNOTATION-POD-JSON'),
  podYaml: m('ANNOTATION-POD-YAML'),
  serviceAccountJson: m('ANNOTATION-SA-JSON'),
};

/** A plain annotation and label (not serialized objects): kept everywhere. */
export const PLAIN = { annotation: 'owner-team-payments', label: 'tier-backend' };

const NS = 'marker';
const CREATED = '2024-06-01T09:00:00Z';

function env(value: string, name = 'API_KEY'): { name: string; value: string }[] {
  return [
    { name, value },
    // A reference, not a value: kept as is.
    { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'db-creds', key: 'password' } } } as never,
  ];
}

function podSpec(value: string): Record<string, unknown> {
  return { containers: [{ name: 'app', image: 'contoso.azurecr.io/app:1.4.2', env: env(value) }] };
}

function template(value: string): Record<string, unknown> {
  return { metadata: { labels: { app: 'x' } }, spec: podSpec(value) };
}

function lastApplied(object: Record<string, unknown>): string {
  return JSON.stringify(object);
}

export function markerScenario(): Scenario {
  const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: NS, creationTimestamp: CREATED, ...extra });
  const podLastApplied = lastApplied({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: NS }, spec: podSpec(ENV_VALUES.podLastApplied) });
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, creationTimestamp: CREATED } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', creationTimestamp: CREATED } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta('db-creds', {
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': lastApplied({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'db-creds' },
            stringData: { password: ALWAYS_SECRET.secretStringData },
          }),
        },
      }),
      type: 'Opaque',
      data: { password: Buffer.from(ALWAYS_SECRET.secretData).toString('base64') },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('app-config', {
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': lastApplied({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'app-config' },
            data: { conn: ALWAYS_SECRET.configMapLastApplied },
          }),
        },
      }),
      data: { conn: `Server=db;Password=${ALWAYS_SECRET.configMapValue}` },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta('web', {
        annotations: {
          'example.com/registry-auth': JSON.stringify({ auths: { 'contoso.azurecr.io': { auth: SERIALIZED_ANNOTATIONS.serviceAccountJson } } }),
          team: PLAIN.annotation,
        },
      }),
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: meta('web', {
        uid: '7a1e0000-0000-4000-8000-000000000001',
        labels: { app: 'web', tier: PLAIN.label },
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': podLastApplied,
          'example.com/settings': JSON.stringify({ token: SERIALIZED_ANNOTATIONS.podJson }),
          'example.com/settings-yaml': `database:\n  user: app\n  password: ${SERIALIZED_ANNOTATIONS.podYaml}\n`,
          team: PLAIN.annotation,
        },
      }),
      spec: {
        serviceAccountName: 'web',
        nodeName: 'node-1',
        initContainers: [{ name: 'init', image: 'contoso.azurecr.io/init:1', env: env(ENV_VALUES.podInit, 'INIT_TOKEN') }],
        containers: [{ name: 'app', image: 'contoso.azurecr.io/app:1.4.2', env: env(ENV_VALUES.pod) }],
        ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.36', env: env(ENV_VALUES.podEphemeral, 'DEBUG_TOKEN') }],
      },
      status: {
        phase: 'Running',
        initContainerStatuses: [{ name: 'init', ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
        containerStatuses: [{ name: 'app', image: 'contoso.azurecr.io/app:1.4.2', ready: true, started: true, restartCount: 0, state: { running: { startedAt: CREATED } } }],
        ephemeralContainerStatuses: [{ name: 'debugger', ready: false, restartCount: 0, state: { running: { startedAt: CREATED } } }],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta('api', {
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': lastApplied({
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            spec: { template: template(ENV_VALUES.deploymentLastApplied) },
          }),
        },
      }),
      spec: { replicas: 1, selector: { matchLabels: { app: 'x' } }, template: template(ENV_VALUES.deployment) },
    },
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('agent'), spec: { selector: { matchLabels: { app: 'x' } }, template: template(ENV_VALUES.daemonSet) } },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta('db'),
      spec: { serviceName: 'db', selector: { matchLabels: { app: 'x' } }, template: template(ENV_VALUES.statefulSet) },
    },
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta('api-5d8f'), spec: { selector: { matchLabels: { app: 'x' } }, template: template(ENV_VALUES.replicaSet) } },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta('migrate'),
      spec: { template: { ...template(ENV_VALUES.job), spec: { ...podSpec(ENV_VALUES.job), restartPolicy: 'Never' } } },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta('report'),
      spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: { spec: { ...podSpec(ENV_VALUES.cronJob), restartPolicy: 'OnFailure' } } } } },
    },
    {
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: meta('legacy'),
      spec: { replicas: 1, selector: { app: 'x' }, template: template(ENV_VALUES.replicationController) },
    },
    { apiVersion: 'v1', kind: 'PodTemplate', metadata: meta('tmpl'), template: template(ENV_VALUES.podTemplate) },
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'rollouts.argoproj.io', creationTimestamp: CREATED },
      spec: {
        group: 'argoproj.io',
        scope: 'Namespaced',
        names: { plural: 'rollouts', singular: 'rollout', kind: 'Rollout', listKind: 'RolloutList' },
        versions: [{ name: 'v1alpha1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    },
    { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: meta('canary'), spec: { replicas: 1, template: template(ENV_VALUES.customResource) } },
  ];
  return {
    name: 'markers',
    description: 'every place a secret hides, each holding a distinct marker string',
    objects,
    logs: {
      [`${NS}/web/app`]: {
        current: [
          { time: '2024-06-01T11:00:00.000000000Z', message: 'GET /healthz 200' },
          { time: '2024-06-01T11:00:01.000000000Z', message: 'GET /api/orders 200' },
        ],
      },
      [`${NS}/web/init`]: { current: [{ time: '2024-06-01T09:00:05.000000000Z', message: 'migrations done' }] },
    },
    referenceTime: '2024-06-01T12:00:00Z',
  };
}

/** Every marker, with the group it belongs to. */
export function allMarkers(): { marker: string; group: 'always' | 'env' | 'annotation' }[] {
  return [
    ...Object.values(ALWAYS_SECRET).map((marker) => ({ marker, group: 'always' as const })),
    ...Object.values(ENV_VALUES).map((marker) => ({ marker, group: 'env' as const })),
    ...Object.values(SERIALIZED_ANNOTATIONS).map((marker) => ({ marker, group: 'annotation' as const })),
  ];
}

/** The markers found in `text`. */
export function markersIn(text: string, markers: readonly string[]): string[] {
  return markers.filter((m) => text.includes(m));
}
