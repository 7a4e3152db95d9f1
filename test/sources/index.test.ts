import { allTables, getTable } from '../../shared/ingestion/tableRegistry.js';
import { createSourceRegistry, getSource, KUBEFORENSYS_SOURCE_DEFINITIONS, registerable } from '../../shared/sources/index.js';
import { fnv1a32, inPodShard, podShardIndex } from '../../shared/sources/shard.js';
import { KUBEFORENSYS_SOURCES } from '../../shared/sources/types.js';

describe('source registry', () => {
  test('the eight sources, in order, each writing to its registered table', () => {
    expect(KUBEFORENSYS_SOURCE_DEFINITIONS.map((s) => s.name)).toEqual([...KUBEFORENSYS_SOURCES]);
    for (const s of KUBEFORENSYS_SOURCE_DEFINITIONS) {
      expect(getTable(s.table).source).toBe(s.name);
      expect(getSource(s.name)).toBe(s);
      expect(s.description.length).toBeGreaterThan(20);
    }
    expect(getSource('nope')).toBeUndefined();
    expect(KUBEFORENSYS_SOURCE_DEFINITIONS.filter((s) => s.podSharded).map((s) => s.name)).toEqual(['containerlogs', 'commandhistory']);
    expect(allTables().length).toBeGreaterThanOrEqual(8);
  });

  test('combining with other sources is a spread; duplicates are refused', () => {
    const extra = { ...KUBEFORENSYS_SOURCE_DEFINITIONS[1]!, name: 'snapshot' as const };
    const combined = createSourceRegistry([...registerable.sources, extra]);
    expect(combined.names()).toEqual([...KUBEFORENSYS_SOURCES, 'snapshot']);
    expect(() => createSourceRegistry([...registerable.sources, KUBEFORENSYS_SOURCE_DEFINITIONS[0]!])).toThrow('registered twice');
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
