import { KUBEFORENSYS_SOURCES, SOURCE_DEFINITIONS, SOURCES, SourceRegistry } from '../../shared/sources/registry.js';
import { fnv1a32, inPodShard, podShardIndex } from '../../shared/sources/common/shard.js';
import type { SourceDefinition } from '../../shared/sources/types.js';

/** The Azure RBAC data action that authorizes a Kubernetes request (AKS-managed Entra ID + Azure RBAC). */
function dataActionFor(r: { verb: string; resource: string; group?: string; subresource?: string }): string {
  const resource = `${r.group ? `${r.group}/` : ''}${r.resource}`;
  // pods/log has no data action of its own: AKS authorizes GET pods/log with pods/read. Exec is an action.
  if (r.subresource === 'exec') return `Microsoft.ContainerService/managedClusters/${resource}/exec/action`;
  return `Microsoft.ContainerService/managedClusters/${resource}/read`;
}

describe('source registry', () => {
  test("KubeForenSys's eight sources first, in its order, each writing to its own table", () => {
    expect(SOURCES.names().slice(0, 8)).toEqual([...KUBEFORENSYS_SOURCES]);
    for (const s of SOURCES.sources) {
      expect(s.description.length).toBeGreaterThan(20);
      for (const t of s.tables) expect(SOURCES.tables.get(t.name).source).toBe(s.name);
    }
    // Every source's tables in source order, then the custody table the run itself writes at every seal, then the preservation window's object changes.
    expect(SOURCES.tables.tables.map((t) => t.source)).toEqual([...SOURCES.sources.flatMap((s) => s.tables.map(() => s.name)), 'custody', 'preservation']);
    expect(SOURCES.tables.get('evidencecustody_CL').source).toBe('custody');
    expect(SOURCES.tables.get('kubechanges_CL').source).toBe('preservation');
  });

  test('pod sharding is declared by the sources that grow with pods', () => {
    expect([...SOURCES.podSharded()]).toEqual(['containerlogs', 'commandhistory']);
  });

  test('every Kubernetes request a source declares is authorized by an Azure permission it declares', () => {
    for (const s of SOURCES.sources) {
      const granted = new Set(s.azurePermissions.map((p) => p.action));
      for (const r of s.kubernetesAccess) expect({ source: s.name, needs: dataActionFor(r), granted: granted.has(dataActionFor(r)) }).toMatchObject({ granted: true });
    }
  });

  test('an unknown name is refused naming the known ones; a list resolves, de-duplicated', () => {
    expect(() => SOURCES.get('nope')).toThrow(/unknown source "nope"; choose from containerlogs, events/);
    expect(SOURCES.resolveNames([' events', 'events', 'cronjobs'])).toEqual(['events', 'cronjobs']);
    expect(SOURCES.resolveNames(undefined)).toEqual(SOURCES.names());
    expect(() => SOURCES.resolveNames(['events', 'kubelogs'])).toThrow(/unknown source "kubelogs"/);
  });

  const events = SOURCES.get('events');
  test.each<[string, SourceDefinition[], RegExp]>([
    ['a source listed twice', [...SOURCE_DEFINITIONS, events], /registered twice/],
    ['a table declared by two sources', [...SOURCE_DEFINITIONS, { ...events, name: 'events2', tables: [{ ...events.tables[0]!, source: 'events2' }] }], /declared twice/],
    ['a source without a table', [{ ...events, tables: [] }], /declares no table/],
    ['a Kubernetes source without access declarations', [{ ...events, kubernetesAccess: [] }], /declares no kubernetesAccess/],
    ['a Kubernetes source without Azure permissions', [{ ...events, azurePermissions: [] }], /declares no azurePermissions/],
    ['a table that names another source', [{ ...events, name: 'other' }], /belongs to source "events"/],
    ['a name that cannot be a path segment', [{ ...events, name: 'Events/../x' }], /must be 2-32 lower-case/],
  ])('refuses %s', (_what, sources, message) => {
    expect(() => new SourceRegistry(sources)).toThrow(message);
  });
});

describe('pod shards', () => {
  test('FNV-1a 32 matches the reference vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  test('every pod lands in exactly one shard, spread evenly', () => {
    const counts = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) {
      const ns = `ns-${i % 13}`;
      const name = `pod-${i}`;
      const owners = counts.map((_, index) => inPodShard(ns, name, { index, count: 8 }));
      expect(owners.filter(Boolean)).toHaveLength(1);
      counts[podShardIndex(ns, name, 8)]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(inPodShard('a', 'b', undefined)).toBe(true);
    expect(() => podShardIndex('a', 'b', 0)).toThrow(RangeError);
  });
});
