import { commandHistorySource } from './commandHistory.js';
import { containerLogsSource } from './containerLogs.js';
import { cronJobsSource } from './cronJobs.js';
import { eventsSource } from './events.js';
import { networkPoliciesSource } from './networkPolicies.js';
import { rbacBindingsSource } from './rbacBindings.js';
import { serviceAccountsSource } from './serviceAccounts.js';
import { suspiciousPodsSource } from './suspiciousPods.js';
import { KUBEFORENSYS_SOURCES, type SourceDefinition } from './types.js';

/**
 * The eight KubeForenSys sources, in KubeForenSys's order. A combined list (snapshot,
 * findings, ...) is a spread away: [...KUBEFORENSYS_SOURCE_DEFINITIONS, snapshotSource].
 */
export const KUBEFORENSYS_SOURCE_DEFINITIONS: readonly SourceDefinition[] = [
  containerLogsSource,
  eventsSource,
  commandHistorySource,
  serviceAccountsSource,
  suspiciousPodsSource,
  rbacBindingsSource,
  cronJobsSource,
  networkPoliciesSource,
];

const order = KUBEFORENSYS_SOURCE_DEFINITIONS.map((s) => s.name);
if (order.join() !== KUBEFORENSYS_SOURCES.join()) {
  throw new Error(`source definitions (${order.join()}) do not match KUBEFORENSYS_SOURCES (${KUBEFORENSYS_SOURCES.join()})`);
}

/** A registry of sources by name: build one over any list of definitions. */
export interface SourceRegistry {
  readonly sources: readonly SourceDefinition[];
  get(name: string): SourceDefinition | undefined;
  names(): string[];
}

export function createSourceRegistry(sources: readonly SourceDefinition[]): SourceRegistry {
  const byName = new Map<string, SourceDefinition>();
  for (const s of sources) {
    if (byName.has(s.name)) throw new Error(`source "${s.name}" is registered twice`);
    byName.set(s.name, s);
  }
  return { sources, get: (name) => byName.get(name), names: () => [...byName.keys()] };
}

/** The eight sources, registerable as one unit next to others. */
export const registerable: SourceRegistry = createSourceRegistry(KUBEFORENSYS_SOURCE_DEFINITIONS);

/** One of the eight sources by name, or undefined. */
export function getSource(name: string): SourceDefinition | undefined {
  return registerable.get(name);
}

export { analyzePodSpec, type PodSpecFinding, type AnalyzePodSpecOptions } from './podSecurity.js';
export { createCommandHistorySource, type CommandHistoryOptions } from './commandHistory.js';
export { fnv1a32, inPodShard, podShardIndex } from './shard.js';
