import type { TableDefinition } from './table.js';

/**
 * The tables of a set of sources, by name. Built by whoever owns the list of sources
 * (shared/sources/registry.ts) and handed to ingestion, infra and the timeline: the single
 * source of truth for schemas, with no module importing the tables of another.
 */
export class TableRegistry {
  readonly tables: readonly TableDefinition[];
  private readonly byName: ReadonlyMap<string, TableDefinition>;

  constructor(tables: readonly TableDefinition[]) {
    const byName = new Map<string, TableDefinition>();
    for (const table of tables) {
      if (byName.has(table.name)) throw new Error(`table ${table.name} is declared twice (sources ${byName.get(table.name)?.source} and ${table.source})`);
      if (!table.name.endsWith('_CL')) throw new Error(`table ${table.name} (source ${table.source}) must end with _CL`);
      byName.set(table.name, table);
    }
    this.tables = tables;
    this.byName = byName;
  }

  /** The table named `name`; throws naming the known tables when there is none. */
  get(name: string): TableDefinition {
    const table = this.byName.get(name);
    if (!table) throw new Error(`unknown table ${name}; known: ${[...this.byName.keys()].join(', ')}`);
    return table;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}
