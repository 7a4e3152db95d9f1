/**
 * Just enough ARM template vocabulary to generate infra/azuredeploy.json from TypeScript:
 * JSON types, expression builders, resource ids. Written by hand because the template is
 * generated from the table registry and Bicep cannot be compiled on the build machines.
 *
 * Conventions the tests rely on (test/infra/arm.ts parses them back):
 * - a resource name is a literal, one expression `[x]`, or `[format('{0}/{1}', a, b)]`;
 * - dependsOn entries are `[resourceId('<type>', <name parts>)]`, or for extension resources
 *   `[extensionResourceId(resourceId(...scope...), '<type>', <name>)]`;
 * - the `scope` of an extension resource is `[format('<ns>/<type>/{0}', a)]`.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ArmParameter {
  type: 'string' | 'securestring' | 'int' | 'bool' | 'array' | 'object';
  defaultValue?: Json;
  allowedValues?: Json[];
  minValue?: number;
  maxValue?: number;
  minLength?: number;
  maxLength?: number;
  metadata: { description: string };
}

export interface ArmResource {
  type: string;
  apiVersion: string;
  name: string;
  [key: string]: Json | undefined;
}

/** A resource as plain JSON (for nested deployment templates). */
export const asJson = (resource: ArmResource): JsonObject => resource as unknown as JsonObject;

export interface ArmTemplate {
  $schema: string;
  contentVersion: string;
  metadata?: JsonObject;
  parameters: Record<string, ArmParameter>;
  variables: JsonObject;
  resources: ArmResource[];
  outputs: Record<string, { type: string; value: Json; condition?: string }>;
}

export const DEPLOYMENT_TEMPLATE_SCHEMA = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#';

/** API versions, one per resource type; all stable (non-preview) versions. */
export const API = {
  workspaces: '2023-09-01',
  tables: '2022-10-01',
  savedSearches: '2020-08-01',
  dataCollectionEndpoints: '2023-03-11',
  dataCollectionRules: '2023-03-11',
  storage: '2023-05-01',
  userAssignedIdentities: '2023-01-31',
  components: '2020-02-02',
  web: '2024-04-01',
  roleAssignments: '2022-04-01',
  roleDefinitions: '2022-04-01',
  deployments: '2022-09-01',
  keyVault: '2023-07-01',
  connections: '2016-06-01',
  workflows: '2019-05-01',
  securityInsights: '2024-03-01',
} as const;

/** A string literal inside an expression: quotes doubled. */
export const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;
export const p = (name: string): string => `parameters(${lit(name)})`;
export const v = (name: string): string => `variables(${lit(name)})`;
/** Wrap an inner expression as an ARM template expression string. */
export const expr = (inner: string): string => `[${inner}]`;
export const fmt = (template: string, ...args: string[]): string => `format(${[lit(template), ...args].join(', ')})`;

/** A resource name from its segments (each an inner expression). */
export function nameOf(...parts: string[]): string {
  if (parts.length === 0) throw new Error('a resource name needs at least one segment');
  if (parts.length === 1) return expr(parts[0] as string);
  return expr(fmt(parts.map((_, i) => `{${i}}`).join('/'), ...parts));
}

/** resourceId('<type>', parts...) for a resource in this deployment's resource group. */
export const resourceIdOf = (type: string, ...parts: string[]): string => `resourceId(${[lit(type), ...parts].join(', ')})`;

/** dependsOn entry for a resource of this template. */
export const dependsOnId = (type: string, ...parts: string[]): string => expr(resourceIdOf(type, ...parts));

/** `reference(resourceId(...), apiVersion)` (and `'full'` for identity/location properties). */
export const referenceOf = (type: string, apiVersion: string, parts: string[], full = false): string =>
  `reference(${[resourceIdOf(type, ...parts), lit(apiVersion), ...(full ? [lit('full')] : [])].join(', ')})`;

/**
 * Relative `scope` for an extension resource (role assignments): `<ns>/<type>/{0}[/<type>/{1}]`.
 * `typePath` is the resource type, `parts` its name segments.
 */
export function scopeOf(typePath: string, ...parts: string[]): string {
  const [namespace, ...types] = typePath.split('/');
  if (!namespace || types.length !== parts.length) throw new Error(`scope ${typePath} needs ${types.length} name segments, got ${parts.length}`);
  const path = [namespace, ...types.flatMap((t, i) => [t, `{${i}}`])].join('/');
  return expr(fmt(path, ...parts));
}

/** dependsOn entry for an extension resource (e.g. a role assignment) on a scope of this template. */
export const dependsOnExtension = (scopeType: string, scopeParts: string[], type: string, name: string): string =>
  expr(`extensionResourceId(${resourceIdOf(scopeType, ...scopeParts)}, ${lit(type)}, ${name})`);

/** Built-in role definition id for a role assignment: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid). */
export const roleDefinitionIdOf = (roleGuidExpr: string): string => `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ${roleGuidExpr})`;
