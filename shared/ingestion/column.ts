import type { ColumnDefinition, ColumnType } from './tableRegistry.js';

/**
 * One column of a registry table. In its own module because the modules that contribute
 * tables are imported by tableRegistry.ts: importing a value back from it would be a cycle.
 */
export function column(name: string, type: ColumnType, description: string): ColumnDefinition {
  return { name, type, description };
}
