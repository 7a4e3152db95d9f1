/**
 * The contract between the template and the Functions app: the app settings the template
 * writes — evaluated as ARM would, with reference() results shaped like the real resources'
 * — are the ones shared/config/appSettings.ts reads, and they pass its validation, including
 * the ingestion target document built from the DCE endpoint and the DCRs' immutable ids.
 */
import { APP_SETTING } from '../../infra/appSettingNames.js';
import { AppSettingsError, loadAppSettings, SETTING } from '../../shared/config/appSettings.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { streamName } from '../../shared/tables/table.js';
import { evaluateValue, type Value } from './armExpression.js';
import { committedTemplate, contextFor, only, resourcesOfType } from './templateModel.js';

const template = committedTemplate();
const site = only(resourcesOfType(template, 'Microsoft.Web/sites'), 'site');

function appSettings(parameters: Record<string, Value> = {}): Record<string, string> {
  const ctx = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters });
  const list = evaluateValue((site.properties?.siteConfig as { appSettings: unknown }).appSettings, ctx) as { name: string; value: Value }[];
  for (const s of list) expect({ name: s.name, type: typeof s.value }).toEqual({ name: s.name, type: 'string' });
  return Object.fromEntries(list.map((s) => [s.name, String(s.value)]));
}

describe('Function App settings from the template', () => {
  it('use the setting names shared/config/appSettings.ts reads', () => {
    for (const [key, name] of Object.entries(APP_SETTING)) expect({ key, name }).toEqual({ key, name: SETTING[key as keyof typeof SETTING] });
    const settings = appSettings();
    for (const name of Object.values(APP_SETTING)) expect(Object.keys(settings)).toContain(name);
    // Azurite-only setting never deployed.
    expect(settings[SETTING.connectionString]).toBeUndefined();
  });

  it('pass loadAppSettings(): evidence container, ingestion target for every table, managed identity, concurrency', () => {
    const env = appSettings();
    const loaded = loadAppSettings(env);
    const ctx = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters: {} });
    const account = String(evaluateValue("[variables('evidenceStorageName')]", ctx));
    expect(loaded.evidence.containerUrl).toBe(`https://${account}.blob.core.windows.net/evidence`);
    expect(loaded.managedIdentityClientId).toBe(env[SETTING.clientId]);
    expect(loaded.concurrency).toBe(32);
    expect(loaded.ingestion?.endpoint).toMatch(/^https:\/\/[a-z0-9-]+\.westeurope-1\.ingest\.monitor\.azure\.com$/);
    expect(Object.keys(loaded.ingestion?.tables ?? {}).sort()).toEqual(SOURCES.tables.tables.map((t) => t.name).sort());
    for (const t of SOURCES.tables.tables) {
      expect(loaded.ingestion?.tables[t.name]).toEqual({ dcrImmutableId: expect.stringMatching(/^dcr-[0-9a-f]{32}$/), streamName: streamName(t) });
    }
  });

  it('each table is sent to the DCR that declares its stream', () => {
    const ctx = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters: {} });
    const doc = JSON.parse(appSettings()[SETTING.ingestion] as string) as { tables: Record<string, { dcrImmutableId: string; streamName: string }> };
    for (const dcr of resourcesOfType(template, 'Microsoft.Insights/dataCollectionRules')) {
      const name = String(evaluateValue(dcr.name, ctx));
      const immutableId = (ctx.reference(`/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/dataCollectionRules/${name}`, false) as { immutableId: string })
        .immutableId;
      const streams = Object.keys((dcr.properties as { streamDeclarations: object }).streamDeclarations);
      const routed = Object.entries(doc.tables)
        .filter(([, target]) => target.dcrImmutableId === immutableId)
        .map(([, target]) => target.streamName);
      expect(routed.sort()).toEqual(streams.sort());
    }
  });

  it('the ingestion target output is the same document the app setting carries', () => {
    const ctx = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters: {} });
    const output = evaluateValue(template.outputs?.ingestionTarget?.value, ctx);
    expect(output).toEqual(JSON.parse(appSettings()[SETTING.ingestion] as string));
  });

  it('defaultSources: empty means the app default; a list is validated by the app (a typo is reported at start-up)', () => {
    expect(appSettings()[SETTING.defaultSources]).toBe('');
    expect(() => loadAppSettings(appSettings({ defaultSources: 'events,cronjobs' }))).not.toThrow();
    expect(() => loadAppSettings(appSettings({ defaultSources: 'events,cronjob' }))).toThrow(AppSettingsError);
  });
});
