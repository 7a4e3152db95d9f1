/**
 * Reading infra/azuredeploy.json for the tests: the committed file, its nested templates, the
 * id a resource answers to in dependsOn, and an evaluation context with stubbed reference()
 * results shaped like the real resources' runtime properties.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateValue, isExpression, parseArmId, parseExpression, print, stubGuid, type Ast, type EvalContext, type Value } from './armExpression.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type Obj = Record<string, unknown>;
export interface Resource extends Obj {
  type: string;
  apiVersion: string;
  name: string;
  dependsOn?: string[];
  properties?: Obj;
  scope?: string;
  condition?: string | boolean;
}
export interface Template extends Obj {
  parameters?: Record<string, Obj>;
  variables?: Record<string, unknown>;
  resources: Resource[];
  outputs?: Record<string, Obj>;
}

export function readCommitted(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

export function committedTemplate(): Template {
  return JSON.parse(readCommitted('infra/azuredeploy.json')) as Template;
}

/** A template and the nested templates it deploys (inner scope: their own parameters). */
export interface TemplateScope {
  path: string;
  template: Template;
  /** The nested deployment resource, for inner scopes. */
  deployment?: Resource;
}

export function scopes(template: Template, path = 'azuredeploy.json'): TemplateScope[] {
  const out: TemplateScope[] = [{ path, template }];
  for (const resource of template.resources) {
    const props = resource.properties as { template?: Template; expressionEvaluationOptions?: { scope?: string } } | undefined;
    if (resource.type === 'Microsoft.Resources/deployments' && props?.template) {
      if (props.expressionEvaluationOptions?.scope !== 'inner') throw new Error(`nested deployment ${resource.name} must use inner expression scope`);
      for (const inner of scopes(props.template, `${path} > ${resource.name}`)) out.push({ ...inner, deployment: inner.deployment ?? resource });
    }
  }
  return out;
}

/** Every string in a value, with its JSON path; nested deployment templates are not entered. */
export function* strings(value: unknown, path = '$', skipNestedTemplates = true): Generator<{ path: string; value: string }> {
  if (typeof value === 'string') {
    yield { path, value };
  } else if (Array.isArray(value)) {
    for (const [k, x] of value.entries()) yield* strings(x, `${path}[${k}]`, skipNestedTemplates);
  } else if (value && typeof value === 'object') {
    for (const [k, x] of Object.entries(value)) {
      if (skipNestedTemplates && k === 'template' && path.endsWith('.properties')) continue;
      yield* strings(k, `${path}.<key>`, skipNestedTemplates);
      yield* strings(x, `${path}.${k}`, skipNestedTemplates);
    }
  }
}

/** Every ARM expression of one template scope (nested templates excluded). */
export function expressions(template: Template): { path: string; text: string; ast: Ast }[] {
  const out: { path: string; text: string; ast: Ast }[] = [];
  for (const s of strings(template)) {
    if (isExpression(s.value)) out.push({ path: s.path, text: s.value, ast: parseExpression(s.value.slice(1, -1)) });
  }
  return out;
}

const norm = (exprText: string): string => print(parseExpression(exprText));

/** The name segments of a resource name: literal `a/b`, `[x]`, or `[format('{0}/{1}', a, b)]`. */
export function nameSegments(name: string): string[] {
  if (!isExpression(name)) return name.split('/').map((s) => `'${s.replaceAll("'", "''")}'`);
  const ast = parseExpression(name.slice(1, -1));
  if (ast.kind === 'call' && ast.name === 'format' && ast.args[0]?.kind === 'str' && /^\{0\}(\/\{\d+\})*$/.test(ast.args[0].value)) {
    return ast.args.slice(1).map(print);
  }
  return [print(ast)];
}

/** The id expression(s) a dependsOn entry may use for this resource. */
export function dependsOnIds(resource: Resource): string[] {
  const parts = nameSegments(resource.name);
  const typeLit = `'${resource.type}'`;
  if (resource.scope) {
    const scope = parseExpression(resource.scope.slice(1, -1));
    if (scope.kind !== 'call' || scope.name !== 'format' || scope.args[0]?.kind !== 'str') throw new Error(`unexpected scope ${resource.scope}`);
    const segments = scope.args[0].value.split('/');
    const [namespace, ...rest] = segments;
    const types = rest.filter((_, k) => k % 2 === 0);
    const scopeType = [namespace, ...types].join('/');
    const scopeId = `resourceId('${scopeType}', ${scope.args.slice(1).map(print).join(', ')})`;
    return [norm(`extensionResourceId(${scopeId}, ${typeLit}, ${parts.join(', ')})`)];
  }
  if (resource.subscriptionId !== undefined && resource.resourceGroup !== undefined) {
    const sub = print(parseExpression(String(resource.subscriptionId).slice(1, -1)));
    const rg = print(parseExpression(String(resource.resourceGroup).slice(1, -1)));
    return [norm(`resourceId(${sub}, ${rg}, ${typeLit}, ${parts.join(', ')})`)];
  }
  return [norm(`resourceId(${typeLit}, ${parts.join(', ')})`)];
}

export const normalizeExpression = (text: string): string => (isExpression(text) ? norm(text.slice(1, -1)) : text);

/** Default parameter values, evaluated ([resourceGroup().location] and newGuid() defaults). */
export interface Deployment {
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  parameters: Record<string, Value>;
}

export const DEFAULT_DEPLOYMENT: Deployment = {
  subscriptionId: '11111111-2222-3333-4444-555555555555',
  resourceGroup: 'rg-aks-evidence',
  location: 'westeurope',
  parameters: {},
};

/** runtime properties of deployed resources, shaped like what reference() returns. */
export function stubReference(id: string, full: boolean): Value {
  const { type, names } = parseArmId(id);
  const name = names.at(-1) ?? 'x';
  const hex = (seed: string): string => stubGuid(seed).replaceAll('-', '');
  let props: Value;
  switch (type.toLowerCase()) {
    case 'microsoft.insights/datacollectionendpoints':
      props = { logsIngestion: { endpoint: `https://${name}-a1b2.westeurope-1.ingest.monitor.azure.com` } };
      break;
    case 'microsoft.insights/datacollectionrules':
      props = { immutableId: `dcr-${hex(name)}` };
      break;
    case 'microsoft.storage/storageaccounts':
      props = { primaryEndpoints: { blob: `https://${name}.blob.core.windows.net/` } };
      break;
    case 'microsoft.managedidentity/userassignedidentities':
      props = { clientId: stubGuid('client', name), principalId: stubGuid('principal', name) };
      break;
    case 'microsoft.web/sites':
      props = { defaultHostName: `${name}.azurewebsites.net` };
      break;
    case 'microsoft.keyvault/vaults':
      props = { vaultUri: `https://${name}.vault.azure.net/` };
      break;
    case 'microsoft.insights/components':
      props = { ConnectionString: `InstrumentationKey=${stubGuid('ikey', name)};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/` };
      break;
    case 'microsoft.logic/workflows':
      props = {};
      break;
    default:
      throw new Error(`no reference() stub for ${type} (${id})`);
  }
  if (!full) return props;
  return { properties: props, identity: { principalId: stubGuid('identity', name), type: 'SystemAssigned' }, location: 'westeurope' };
}

/** An evaluation context for the outer template with the given parameters (others: defaults). */
export function contextFor(template: Template, deployment: Deployment = DEFAULT_DEPLOYMENT): EvalContext {
  const ctx: EvalContext = {
    parameters: {},
    variables: template.variables ?? {},
    subscriptionId: deployment.subscriptionId,
    resourceGroup: deployment.resourceGroup,
    tenantId: '99999999-8888-7777-6666-555555555555',
    location: deployment.location,
    reference: stubReference,
  };
  for (const [name, def] of Object.entries(template.parameters ?? {})) {
    if (name in deployment.parameters) ctx.parameters[name] = deployment.parameters[name] as Value;
    else if ('defaultValue' in def) ctx.parameters[name] = evaluateValue(def.defaultValue, ctx);
    else throw new Error(`parameter ${name} has no default and no value`);
  }
  return ctx;
}

export function resourcesOfType(template: Template, type: string): Resource[] {
  return template.resources.filter((r) => r.type.toLowerCase() === type.toLowerCase());
}

export function only<T>(items: T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0] as T;
}

/** The nested deployment whose template holds a resource of `type`. */
export function nestedWith(template: Template, type: string): { deployment: Resource; template: Template } {
  for (const s of scopes(template)) {
    if (s.deployment && s.template.resources.some((r) => r.type === type)) return { deployment: s.deployment, template: s.template };
  }
  throw new Error(`no nested template deploys ${type}`);
}
