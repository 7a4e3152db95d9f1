/**
 * infra/azuredeploy.json as ARM would read it: valid JSON, equal to what the generator makes,
 * every expression parseable and made of real ARM functions, every parameter/variable/resource
 * reference resolving, every dependsOn naming a resource of the template, and the security
 * properties the design requires (WORM evidence, identity-only storage, no secrets).
 */
import { isDeepStrictEqual } from 'node:util';
import { generatedFiles } from '../../infra/generate.js';
import { buildTemplate } from '../../infra/template.js';
import { ARM_FUNCTIONS, calls, evaluateValue, isExpression, parseArmId, type Value } from './armExpression.js';
import {
  committedTemplate,
  contextFor,
  dependsOnIds,
  expressions,
  normalizeExpression,
  only,
  readCommitted,
  resourcesOfType,
  scopes,
  strings,
  type Resource,
  type Template,
} from './templateModel.js';

const template = committedTemplate();

describe('generated files', () => {
  it('the committed infra files equal what the generator produces from the table registry', () => {
    const stale: string[] = [];
    for (const [path, content] of Object.entries(generatedFiles())) {
      let committed: string;
      try {
        committed = readCommitted(path);
      } catch {
        stale.push(`${path} is missing: run \`npm run generate:infra\` and commit it`);
        continue;
      }
      const same = path.endsWith('.json') ? isDeepStrictEqual(JSON.parse(committed), JSON.parse(content)) : committed === content;
      if (!same) stale.push(`${path} differs from what infra/generate.ts produces: run \`npm run generate:infra\` and commit it`);
    }
    expect(stale).toEqual([]);
  });

  it('buildTemplate() is deterministic (no timestamps or random values baked in)', () => {
    expect(JSON.stringify(buildTemplate())).toBe(JSON.stringify(buildTemplate()));
  });
});

describe('template structure', () => {
  it('is a resource-group deployment template with parameters, variables, resources and outputs', () => {
    expect(template.$schema).toBe('https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#');
    expect(template.contentVersion).toBe('1.0.0.0');
    expect(Object.keys(template.parameters ?? {}).length).toBeGreaterThan(10);
    expect(template.resources.length).toBeGreaterThan(20);
  });

  it.each(scopes(template).map((s) => [s.path, s] as const))('every resource of %s has type, apiVersion and name', (_, s) => {
    for (const r of s.template.resources) {
      expect(r.type).toMatch(/^[A-Za-z]+\.[A-Za-z]+\/[A-Za-z/]+$/);
      expect(r.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(typeof r.name).toBe('string');
      expect(r.name.length).toBeGreaterThan(0);
    }
  });

  it('uses no preview API versions', () => {
    for (const s of scopes(template))
      for (const r of s.template.resources) expect({ type: r.type, apiVersion: r.apiVersion }).not.toMatchObject({ apiVersion: expect.stringMatching(/preview/) });
  });

  it.each(scopes(template).map((s) => [s.path, s] as const))('every expression in %s parses and calls only ARM template functions', (_, s) => {
    const exprs = expressions(s.template);
    expect(exprs.length).toBeGreaterThan(0);
    for (const e of exprs) {
      for (const c of calls(e.ast)) expect({ at: e.path, fn: c.name, known: ARM_FUNCTIONS.has(c.name) }).toEqual({ at: e.path, fn: c.name, known: true });
    }
  });

  it('stays within ARM template limits: 4 MB, 256 parameters and variables, 64 outputs, 800 resources, 24,576 characters per expression', () => {
    // learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#template-limits
    expect(readCommitted('infra/azuredeploy.json').length).toBeLessThan(4 * 1024 * 1024);
    for (const s of scopes(template)) {
      expect(Object.keys(s.template.parameters ?? {}).length).toBeLessThanOrEqual(256);
      expect(Object.keys(s.template.variables ?? {}).length).toBeLessThanOrEqual(256);
      expect(Object.keys(s.template.outputs ?? {}).length).toBeLessThanOrEqual(64);
      expect(s.template.resources.length).toBeLessThanOrEqual(800);
      for (const e of expressions(s.template)) expect({ at: e.path, length: e.text.length <= 24576 }).toEqual({ at: e.path, length: true });
    }
  });

  it('calls newGuid() only in parameter default values (ARM rejects it elsewhere)', () => {
    for (const s of scopes(template)) {
      for (const e of expressions(s.template)) {
        if (calls(e.ast).some((c) => c.name === 'newGuid')) expect(e.path).toMatch(/^\$\.parameters\.[A-Za-z]+\.defaultValue$/);
      }
    }
  });

  it.each(scopes(template).map((s) => [s.path, s] as const))('every parameters()/variables() reference in %s is declared, and every declared parameter is used', (_, s) => {
    const declaredParams = new Set(Object.keys(s.template.parameters ?? {}));
    const declaredVars = new Set(Object.keys(s.template.variables ?? {}));
    const usedParams = new Set<string>();
    for (const e of expressions(s.template)) {
      for (const c of calls(e.ast)) {
        if (c.name !== 'parameters' && c.name !== 'variables') continue;
        const arg = c.args[0];
        expect(arg?.kind).toBe('str');
        const name = arg?.kind === 'str' ? arg.value : '';
        if (c.name === 'parameters') {
          usedParams.add(name);
          expect({ at: e.path, parameter: name, declared: declaredParams.has(name) }).toEqual({ at: e.path, parameter: name, declared: true });
        } else {
          expect({ at: e.path, variable: name, declared: declaredVars.has(name) }).toEqual({ at: e.path, variable: name, declared: true });
        }
      }
    }
    expect([...declaredParams].filter((p) => !usedParams.has(p))).toEqual([]);
  });

  it('passes every parameter a nested template declares, and no others', () => {
    for (const s of scopes(template)) {
      if (!s.deployment) continue;
      const passed = Object.keys((s.deployment.properties as { parameters?: object }).parameters ?? {}).sort();
      expect({ nested: s.path, passed }).toEqual({ nested: s.path, passed: Object.keys(s.template.parameters ?? {}).sort() });
    }
  });

  it.each(scopes(template).map((s) => [s.path, s] as const))('every dependsOn entry in %s names a resource of the same template', (_, s) => {
    const ids = new Map<string, Resource>();
    for (const r of s.template.resources) for (const id of dependsOnIds(r)) ids.set(id, r);
    let checked = 0;
    for (const r of s.template.resources) {
      for (const dep of r.dependsOn ?? []) {
        checked++;
        expect({ resource: r.name, dependsOn: dep, found: ids.has(normalizeExpression(dep)) }).toEqual({ resource: r.name, dependsOn: dep, found: true });
      }
    }
    if (!s.deployment) expect(checked).toBeGreaterThan(30);
  });

  it('every reference() and resourceId() in the outer template names a resource the template deploys', () => {
    const ctx = contextFor(template);
    const deployed = new Set(
      template.resources.filter((r) => !r.scope && !('copy' in r)).map((r) => `${r.type.toLowerCase()}/${String(evaluateValue(r.name, ctx)).toLowerCase()}`),
    );
    const seen: string[] = [];
    ctx.reference = (id, full) => {
      const { type, names } = parseArmId(id);
      seen.push(id);
      expect({ reference: id, deployed: deployed.has(`${type.toLowerCase()}/${names.join('/').toLowerCase()}`) }).toEqual({ reference: id, deployed: true });
      return contextFor(template).reference(id, full);
    };
    for (const r of template.resources) if (!('copy' in r) && r.type !== 'Microsoft.Resources/deployments') evaluateValue(r.properties ?? {}, ctx);
    for (const o of Object.values(template.outputs ?? {})) evaluateValue(o.value, ctx);
    expect(seen.length).toBeGreaterThan(10);
  });

  it('evaluates every variable and resource name with the default parameters and with an existing workspace', () => {
    const existing = '/subscriptions/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/resourceGroups/rg-sentinel/providers/Microsoft.OperationalInsights/workspaces/law-soc';
    const parameterSets: Record<string, Value>[] = [{}, { existingWorkspaceResourceId: existing }];
    for (const parameters of parameterSets) {
      const ctx = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-aks-evidence', location: 'westeurope', parameters });
      for (const name of Object.keys(template.variables ?? {})) expect(() => evaluateValue(`[variables('${name}')]`, ctx)).not.toThrow();
      for (const r of template.resources) if (!('copy' in r)) expect(typeof evaluateValue(r.name, ctx)).toBe('string');
    }
    const ctx = contextFor(template, { subscriptionId: 's', resourceGroup: 'rg', location: 'westeurope', parameters: { existingWorkspaceResourceId: existing } });
    expect(evaluateValue("[variables('workspaceId')]", ctx)).toBe(existing);
    expect(evaluateValue("[variables('workspaceResourceGroup')]", ctx)).toBe('rg-sentinel');
    expect(evaluateValue("[variables('workspaceSubscriptionId')]", ctx)).toBe('aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
    expect(evaluateValue(only(resourcesOfType(template, 'Microsoft.OperationalInsights/workspaces'), 'workspace').condition, ctx)).toBe(false);
  });

  it('derives names that Azure accepts, for the longest prefix', () => {
    const ctx = contextFor(template, { subscriptionId: 's', resourceGroup: 'rg', location: 'westeurope', parameters: { namePrefix: 'abcdefgh' } });
    const name = (v: string): string => String(evaluateValue(`[variables('${v}')]`, ctx));
    for (const v of ['evidenceStorageName', 'hostStorageName']) expect(name(v)).toMatch(/^[a-z0-9]{3,24}$/);
    expect(name('keyVaultName')).toMatch(/^[a-z][a-z0-9-]{1,22}[a-z0-9]$/);
    expect(name('functionAppName')).toMatch(/^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$/);
    expect(name('evidenceStorageName')).not.toBe(name('hostStorageName'));
    expect(name('workspaceDeploymentName').length).toBeLessThanOrEqual(64);
    expect(name('sentinelDeploymentName').length).toBeLessThanOrEqual(64);
  });
});

describe('evidence storage and secrets', () => {
  const ctx = contextFor(template);
  const storage = resourcesOfType(template, 'Microsoft.Storage/storageAccounts');
  const byNameVar = (v: string): Resource =>
    only(
      storage.filter((r) => r.name === `[variables('${v}')]`),
      v,
    );

  it('evidence account: https only, TLS 1.2, no public blob access, no shared key (identity only)', () => {
    for (const account of [byNameVar('evidenceStorageName'), byNameVar('hostStorageName')]) {
      expect(account.properties).toMatchObject({
        supportsHttpsTrafficOnly: true,
        minimumTlsVersion: 'TLS1_2',
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: false,
      });
    }
  });

  it('evidence container: blob versioning on, version-level immutability on, default retention = evidenceRetentionDays', () => {
    const blobService = only(
      resourcesOfType(template, 'Microsoft.Storage/storageAccounts/blobServices').filter((r) => r.name.includes('evidenceStorageName')),
      'evidence blob service',
    );
    expect(blobService.properties).toMatchObject({ isVersioningEnabled: true });
    const container = only(
      resourcesOfType(template, 'Microsoft.Storage/storageAccounts/blobServices/containers').filter((r) => r.name.includes('evidenceContainerName')),
      'evidence container',
    );
    expect(container.properties).toEqual({ publicAccess: 'None', immutableStorageWithVersioning: { enabled: true } });
    expect(container.dependsOn?.map(normalizeExpression)).toContain(dependsOnIds(blobService)[0]);
    const policy = only(resourcesOfType(template, 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies'), 'immutability policy');
    expect(policy.properties?.immutabilityPeriodSinceCreationInDays).toBe("[parameters('evidenceRetentionDays')]");
    expect(evaluateValue(policy.name, ctx)).toMatch(/\/default\/evidence\/default$/);
    expect(template.parameters?.evidenceRetentionDays).toMatchObject({ type: 'int', minValue: 1 });
  });

  it('contains no key, SAS, connection string or listKeys/listSecrets call', () => {
    for (const s of strings(template, '$', false)) {
      expect({ at: s.path, value: s.value }).not.toEqual({
        at: s.path,
        value: expect.stringMatching(/AccountKey=|SharedAccessSignature|[?&]sig=|listKeys\(|listSecrets\(|\blist\(/i),
      });
    }
    const secure = Object.entries(template.parameters ?? {}).filter(([, p]) => p.type === 'securestring');
    expect(secure.map(([name]) => name)).toEqual(['playbookFunctionKey']);
    // The only default is generated at deployment time, never a literal.
    expect(String(secure[0]?.[1].defaultValue)).toMatch(/^\[.*newGuid\(\).*newGuid\(\).*\]$/);
  });

  it('no output exposes the Function key or a secret-bearing value', () => {
    for (const [name, output] of Object.entries(template.outputs ?? {})) {
      expect({ name, value: JSON.stringify(output.value) }).not.toEqual({ name, value: expect.stringMatching(/playbookFunctionKey|ConnectionString|secrets\//) });
    }
  });
});

describe('function app', () => {
  const ctx = contextFor(template);
  const site = only(resourcesOfType(template, 'Microsoft.Web/sites'), 'site');
  const settings = (): Record<string, Value> => {
    const list = evaluateValue((site.properties?.siteConfig as { appSettings: unknown }).appSettings, ctx) as { name: string; value: Value }[];
    return Object.fromEntries(list.map((s) => [s.name, s.value]));
  };

  it('runs on Flex Consumption (FC1) with Node 22 and deployment storage through the managed identity', () => {
    const plan = only(resourcesOfType(template, 'Microsoft.Web/serverfarms'), 'plan');
    expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(plan.properties).toEqual({ reserved: true });
    expect(site.kind).toBe('functionapp,linux');
    const config = site.properties?.functionAppConfig as { runtime: unknown; deployment: { storage: { type: string; authentication: { type: string } } } };
    expect(config.runtime).toEqual({ name: 'node', version: '22' });
    expect(config.deployment.storage.type).toBe('blobContainer');
    expect(config.deployment.storage.authentication.type).toBe('UserAssignedIdentity');
    expect(site.identity).toMatchObject({ type: 'UserAssigned' });
    expect(site.properties?.httpsOnly).toBe(true);
  });

  it('uses identity-based AzureWebJobsStorage and sets no setting Flex Consumption rejects', () => {
    const s = settings();
    expect(s['AzureWebJobsStorage__credential']).toBe('managedidentity');
    expect(s['AzureWebJobsStorage__clientId']).toBe(s['AZURE_CLIENT_ID']);
    expect(s['AzureWebJobsStorage__accountName']).toBe(evaluateValue("[variables('hostStorageName')]", ctx));
    expect(s['AzureWebJobsStorage']).toBeUndefined();
    for (const rejected of [
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
    ]) {
      expect(s[rejected]).toBeUndefined();
    }
    expect(String(s['APPLICATIONINSIGHTS_AUTHENTICATION_STRING'])).toBe(`ClientId=${String(s['AZURE_CLIENT_ID'])};Authorization=AAD`);
  });

  it('keeps the host keys in the Key Vault where the playbook key is seeded', () => {
    const s = settings();
    expect(s['AzureWebJobsSecretStorageType']).toBe('keyvault');
    const vault = String(evaluateValue("[variables('keyVaultName')]", ctx));
    expect(s['AzureWebJobsSecretStorageKeyVaultUri']).toBe(`https://${vault}.vault.azure.net/`);
    expect(s['AzureWebJobsSecretStorageKeyVaultClientId']).toBe(s['AZURE_CLIENT_ID']);
    const secret = only(resourcesOfType(template, 'Microsoft.KeyVault/vaults/secrets'), 'secret');
    expect(evaluateValue(secret.name, ctx)).toBe(`${vault}/host--functionKey--sentinelPlaybook`);
    expect(site.dependsOn?.map(normalizeExpression)).toContain(dependsOnIds(secret)[0]);
    const vaultResource = only(resourcesOfType(template, 'Microsoft.KeyVault/vaults'), 'vault');
    expect(vaultResource.properties).toMatchObject({ enableRbacAuthorization: true });
  });

  it('is deployed from functionPackageUrl only when one is given', () => {
    const onedeploy = only(resourcesOfType(template, 'Microsoft.Web/sites/extensions'), 'onedeploy');
    expect(evaluateValue(onedeploy.condition, ctx)).toBe(false);
    expect(
      evaluateValue(
        onedeploy.condition,
        contextFor(template, { subscriptionId: 's', resourceGroup: 'rg', location: 'x', parameters: { functionPackageUrl: 'https://example.org/app.zip' } }),
      ),
    ).toBe(true);
  });
});

describe('parameters example file', () => {
  it('names only parameters the template declares, with values of their type', () => {
    const example = JSON.parse(readCommitted('infra/azuredeploy.parameters.example.json')) as { parameters: Record<string, { value: unknown }> };
    const typeOf = (x: unknown): string =>
      Array.isArray(x) ? 'array' : typeof x === 'number' ? 'int' : typeof x === 'boolean' ? 'bool' : typeof x === 'object' ? 'object' : 'string';
    for (const [name, { value }] of Object.entries(example.parameters)) {
      const declared = template.parameters?.[name];
      expect({ name, declared: declared !== undefined }).toEqual({ name, declared: true });
      expect({ name, type: typeOf(value) }).toEqual({ name, type: (declared?.type as string).replace('securestring', 'string') });
    }
  });
});

/** Sanity check of the checker itself: a broken template is caught. */
describe('the checks catch broken templates', () => {
  it('a dependsOn on a resource that is not in the template is not found', () => {
    const broken = structuredClone<Template>(template);
    const ids = new Set(broken.resources.flatMap(dependsOnIds));
    expect(ids.has(normalizeExpression("[resourceId('Microsoft.Web/sites', variables('noSuchApp'))]"))).toBe(false);
    expect(ids.has(normalizeExpression("[resourceId('Microsoft.Web/sites', variables('functionAppName'))]"))).toBe(true);
  });

  it('an undeclared variable fails evaluation', () => {
    expect(() => evaluateValue("[variables('noSuchVariable')]", contextFor(template))).toThrow(/not declared/);
    expect(isExpression('[[escaped]')).toBe(false);
  });
});
