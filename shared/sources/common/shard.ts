import type { PodShard } from '../types.js';

/**
 * Deterministic pod shards. A pod belongs to shard `index` of `count` when
 * fnv1a32("namespace/name") % count === index. Stable across processes and releases,
 * so the orchestrator can plan shards and every activity agrees on who collects a pod.
 */

const encoder = new TextEncoder();

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The shard index of a pod among `count` shards. */
export function podShardIndex(namespace: string, name: string, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count must be a positive integer, got ${count}`);
  return fnv1a32(`${namespace}/${name}`) % count;
}

/** True when the pod belongs to `shard` (always true without a shard). */
export function inPodShard(namespace: string, name: string, shard: PodShard | undefined): boolean {
  if (!shard || shard.count <= 1) return true;
  return podShardIndex(namespace, name, shard.count) === shard.index;
}
