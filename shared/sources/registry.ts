import type { AccessRequirement } from '../cluster/accessReview.js';
import { CHANGES_TABLE } from '../ingestion/changesTable.js';
import { CUSTODY_TABLE } from '../ingestion/custodyTable.js';
import { TableRegistry } from '../tables/registry.js';
import { InputError } from '../util/errors.js';
import { auditSource } from './audit/source.js';
import { commandHistorySource } from './commandhistory/source.js';
import { containerLogsSource } from './containerlogs/source.js';
import { cronJobsSource } from './cronjobs/source.js';
import { eventsSource } from './events/source.js';
import { networkPoliciesSource } from './networkpolicies/source.js';
import { rbacBindingsSource } from './rbacbindings/source.js';
import { rbacFindingsSource } from './rbacfindings/source.js';
import { serviceAccountsSource } from './serviceaccounts/source.js';
import { snapshotSource } from './snapshot/source.js';
import { suspiciousPodsSource } from './suspiciouspods/source.js';
import { targetsSource } from './targets/source.js';
import type { AzurePermission, SourceDefinition } from './types.js';
import { workloadFindingsSource } from './workloadfindings/source.js';

/**
 * Every source a run can collect, in the order they are listed to users: KubeForenSys's eight
 * first, in its order. Adding a source is a folder under shared/sources/ and one line here.
 */
export const SOURCE_DEFINITIONS: readonly SourceDefinition[] = [
  containerLogsSource,
  eventsSource,
  commandHistorySource,
  serviceAccountsSource,
  suspiciousPodsSource,
  rbacBindingsSource,
  cronJobsSource,
  networkPoliciesSource,
  snapshotSource,
  rbacFindingsSource,
  workloadFindingsSource,
  auditSource,
  // What the trigger named (a Sentinel incident's pods, namespaces, nodes); an incident's request lists it first.
  targetsSource,
];

/** KubeForenSys's eight sources, whose tables keep its names and columns. */
export const KUBEFORENSYS_SOURCES = ['containerlogs', 'events', 'commandhistory', 'serviceaccounts', 'suspiciouspods', 'rbacbindings', 'cronjobs', 'networkpolicies'] as const;

const NAME = /^[a-z][a-z0-9]{1,31}$/;

/**
 * A set of sources and everything derived from it. Hosts take a registry (default SOURCES),
 * so a test can run the whole pipeline, the template and the roles with one more source.
 */
export class SourceRegistry {
  readonly sources: readonly SourceDefinition[];
  /** Every table of every source, in source order, the custody table (evidencecustody_CL) and the preservation window's object changes (kubechanges_CL). */
  readonly tables: TableRegistry;
  private readonly byName: ReadonlyMap<string, SourceDefinition>;

  constructor(sources: readonly SourceDefinition[]) {
    const byName = new Map<string, SourceDefinition>();
    for (const source of sources) {
      if (!NAME.test(source.name)) throw new Error(`source name "${source.name}" must be 2-32 lower-case letters or digits, starting with a letter`);
      if (byName.has(source.name)) throw new Error(`source "${source.name}" is registered twice`);
      if (source.tables.length === 0) throw new Error(`source "${source.name}" declares no table`);
      for (const table of source.tables) {
        if (table.source !== source.name) throw new Error(`table ${table.name} says it belongs to source "${table.source}", but source "${source.name}" declares it`);
      }
      const needsKubernetes = (source.needs ?? ['kubernetes']).includes('kubernetes');
      if (needsKubernetes && source.kubernetesAccess.length === 0) throw new Error(`source "${source.name}" reads the Kubernetes API but declares no kubernetesAccess`);
      if (needsKubernetes && source.azurePermissions.length === 0)
        throw new Error(`source "${source.name}" reads the Kubernetes API but declares no azurePermissions (AKS with Azure RBAC authorizes it through data actions)`);
      byName.set(source.name, source);
    }
    this.sources = sources;
    this.byName = byName;
    // The sources' tables, then the custody table the run itself writes at every seal, and the
    // object changes its preservation window writes.
    this.tables = new TableRegistry([...sources.flatMap((s) => s.tables), CUSTODY_TABLE, CHANGES_TABLE]);
  }

  names(): string[] {
    return this.sources.map((s) => s.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The source named `name`; an InputError naming the known sources when there is none. */
  get(name: string): SourceDefinition {
    const source = this.byName.get(name);
    if (!source) throw new InputError('sources', `unknown source "${name}"; choose from ${this.names().join(', ')}`);
    return source;
  }

  /** Validate a user's source list (e.g. --sources a,b): every name known, no duplicates; empty = every source. */
  resolveNames(names: readonly string[] | undefined): string[] {
    if (!names || names.length === 0) return this.names();
    const unique = [...new Set(names.map((n) => n.trim()).filter(Boolean))];
    for (const n of unique) this.get(n);
    return unique;
  }

  /** The Kubernetes access each of these sources needs (for the access review). */
  kubernetesAccess(names: readonly string[]): Record<string, readonly AccessRequirement[]> {
    const access: Record<string, readonly AccessRequirement[]> = {};
    for (const name of names) {
      const source = this.byName.get(name);
      if (source && source.kubernetesAccess.length > 0) access[name] = source.kubernetesAccess;
    }
    return access;
  }

  /** Every Azure permission of every source, one entry per action with the sources that need it. */
  azurePermissions(): (AzurePermission & { neededBy: string[] })[] {
    const merged = new Map<string, AzurePermission & { neededBy: string[] }>();
    for (const source of this.sources) {
      for (const p of source.azurePermissions) {
        const entry = merged.get(p.action);
        if (entry) {
          entry.neededBy.push(source.name);
          if (!entry.why.includes(p.why)) entry.why = `${entry.why}; ${p.why}`;
        } else {
          merged.set(p.action, { ...p, neededBy: [source.name] });
        }
      }
    }
    return [...merged.values()];
  }

  /** Sources sharded by pods. */
  podSharded(): ReadonlySet<string> {
    return new Set(this.sources.filter((s) => s.sharding === 'pods').map((s) => s.name));
  }
}

/** The product's sources. */
export const SOURCES = new SourceRegistry(SOURCE_DEFINITIONS);
