import { asKubeObject } from '../../findings/objects.js';
import type { AnalysisNote, K8sObject, Severity } from '../../findings/types.js';
import type { SourceContext, SourceItem } from '../types.js';
import { listResource, type ResourceListing } from './listResource.js';

/**
 * Listing several resource types for an analysis (the findings sources): each type paginated,
 * 403 → gap; the types that could not be read are collected so the analysis can say which
 * of its findings may be missing.
 */

export type TypeListing = Omit<ResourceListing, 'source'>;

export type Listed = { kind: 'object'; object: K8sObject; resource: string } | SourceItem;

/** List each type; gaps pass through and name the types that could not be read in `unavailable`. */
export async function* listAllTypes(ctx: SourceContext, source: string, listings: readonly TypeListing[], unavailable: Set<string>): AsyncGenerator<Listed> {
  for (const listing of listings) {
    for await (const item of listResource(ctx, { source, ...listing })) {
      if (item.kind === 'object') {
        const object = asKubeObject(item.object);
        if (object) yield { kind: 'object', object, resource: listing.resource };
        continue;
      }
      if (item.kind === 'gap') unavailable.add(listing.resource);
      yield item;
    }
  }
}

/** The coverage item of an analysis: its summary, the unavailable types and the analyzer's notes. */
export function notesCoverage(source: string, summary: Record<string, unknown>, notes: readonly AnalysisNote[], unavailable: Set<string>): SourceItem {
  return {
    kind: 'coverage',
    coverage: { [source]: { ...summary, unavailable: [...unavailable].sort(), notes: notes.map((n) => `${n.code}: ${n.message}`) } },
  };
}

export function countBySeverity(items: readonly { severity: Severity }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item.severity] = (counts[item.severity] ?? 0) + 1;
  return counts;
}
