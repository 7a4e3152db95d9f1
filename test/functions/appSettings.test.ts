import { readFile } from 'node:fs/promises';
import { AppSettingsError, blobEndpointOf, loadAppSettings, SETTING } from '../../shared/config/appSettings.js';

const AZURITE =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;';
const TARGET = {
  endpoint: 'https://dce-evidence-abcd.westeurope-1.ingest.monitor.azure.com',
  tables: { kubelogs_CL: { dcrImmutableId: `dcr-${'0'.repeat(32)}`, streamName: 'Custom-kubelogs_CL' } },
};

function problemsOf(env: Record<string, string>): { setting: string; message: string }[] {
  try {
    loadAppSettings(env);
  } catch (error) {
    if (error instanceof AppSettingsError) return [...error.problems];
    throw error;
  }
  throw new Error('expected invalid settings');
}

describe('app settings', () => {
  it('production: account URL + container, managed identity, ingestion target; frozen', () => {
    const s = loadAppSettings({
      AKS_EVIDENCE_STORAGE_ACCOUNT_URL: 'https://evidence.blob.core.windows.net/',
      AKS_EVIDENCE_CONTAINER: 'evidence',
      AKS_EVIDENCE_INGESTION: JSON.stringify(TARGET),
      AKS_EVIDENCE_DEFAULT_SOURCES: 'events, containerlogs',
      AKS_EVIDENCE_DEFAULT_SINCE: '6h',
      AKS_EVIDENCE_CONCURRENCY: '32',
      AKS_EVIDENCE_PODS_PER_SHARD: '500',
      AKS_EVIDENCE_LEGAL_HOLD: 'true',
      AKS_EVIDENCE_RETENTION_DAYS: '2555',
      AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      WEBSITE_HOSTNAME: 'aks-evidence.azurewebsites.net',
    });
    expect(s).toMatchObject({
      evidence: { containerUrl: 'https://evidence.blob.core.windows.net/evidence', containerName: 'evidence' },
      defaultSources: ['events', 'containerlogs'],
      defaultSinceSeconds: 21600,
      concurrency: 32,
      podsPerShard: 500,
      legalHoldDefault: true,
      retentionDaysDefault: 2555,
      managedIdentityClientId: '11111111-2222-3333-4444-555555555555',
      useAdminCredentials: false,
      armEndpoint: 'https://management.azure.com',
      taskTimeoutSeconds: 1500,
      hostName: 'aks-evidence.azurewebsites.net',
    });
    expect(s.ingestion?.endpoint).toBe(TARGET.endpoint);
    expect(s.evidence.connectionString).toBeUndefined();
    expect(Object.isFrozen(s) && Object.isFrozen(s.evidence) && Object.isFrozen(s.defaultSources)).toBe(true);
  });

  it('local (Azurite): the connection string is used but never serialized', () => {
    const s = loadAppSettings({ AKS_EVIDENCE_STORAGE_CONNECTION_STRING: AZURITE, AKS_EVIDENCE_CONTAINER: 'evidence' });
    expect(s.evidence.containerUrl).toBe('http://127.0.0.1:10000/devstoreaccount1/evidence');
    expect(s.evidence.connectionString).toBe(AZURITE);
    expect(JSON.stringify(s)).not.toContain('AccountKey');
    expect(s.ingestion).toBeUndefined();
    expect(loadAppSettings({ AKS_EVIDENCE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', AKS_EVIDENCE_CONTAINER: 'evidence' }).evidence.containerUrl).toBe(
      'http://127.0.0.1:10000/devstoreaccount1/evidence',
    );
  });

  it('reports every problem at once, naming the setting and the fix, without echoing secrets', () => {
    const problems = problemsOf({
      AKS_EVIDENCE_STORAGE_ACCOUNT_URL: 'https://evidence.blob.core.windows.net/?sv=2024&sig=abc',
      AKS_EVIDENCE_CONTAINER: 'Evidence_Bundles',
      AKS_EVIDENCE_INGESTION: '{"endpoint": "http://dce"}',
      AKS_EVIDENCE_DEFAULT_SOURCES: 'events,kubelogs',
      AKS_EVIDENCE_CONCURRENCY: 'lots',
      AKS_EVIDENCE_LEGAL_HOLD: 'maybe',
      AZURE_CLIENT_ID: 'my-identity',
    });
    expect(problems.map((p) => p.setting).sort()).toEqual(
      [SETTING.accountUrl, SETTING.container, SETTING.ingestion, SETTING.defaultSources, SETTING.concurrency, SETTING.legalHold, SETTING.clientId].sort(),
    );
    const text = problems.map((p) => `${p.setting}: ${p.message}`).join('\n');
    expect(text).toContain('without a SAS token');
    expect(text).not.toContain('sig=abc');
    expect(text).toContain('kubelogs');
    expect(text).toContain('lower-case');
  });

  it('a preservation window for Sentinel-started runs: a duration from a minute to 7 days, and a budget that leaves room for its watches', () => {
    const base = { AKS_EVIDENCE_STORAGE_CONNECTION_STRING: AZURITE, AKS_EVIDENCE_CONTAINER: 'evidence' };
    expect(loadAppSettings(base).sentinelPreserveForSeconds).toBeUndefined();
    expect(loadAppSettings({ ...base, AKS_EVIDENCE_SENTINEL_PRESERVE_FOR: '24h' }).sentinelPreserveForSeconds).toBe(86400);
    expect(problemsOf({ ...base, AKS_EVIDENCE_SENTINEL_PRESERVE_FOR: 'a day' })).toEqual([{ setting: SETTING.sentinelPreserveFor, message: expect.stringContaining('e.g. 24h') }]);
    expect(problemsOf({ ...base, AKS_EVIDENCE_SENTINEL_PRESERVE_FOR: '30d' })).toEqual([{ setting: SETTING.sentinelPreserveFor, message: expect.stringContaining('7 days') }]);
    expect(problemsOf({ ...base, AKS_EVIDENCE_SENTINEL_PRESERVE_FOR: '24h', AKS_EVIDENCE_CONCURRENCY: '8' })).toEqual([
      { setting: SETTING.sentinelPreserveFor, message: expect.stringContaining('AKS_EVIDENCE_CONCURRENCY (8) must be at least 15') },
    ]);
  });

  it('requires a store: one of account URL or connection string, not both', () => {
    expect(problemsOf({}).map((p) => p.setting)).toEqual([SETTING.accountUrl, SETTING.container]);
    const both = problemsOf({
      AKS_EVIDENCE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net',
      AKS_EVIDENCE_STORAGE_CONNECTION_STRING: AZURITE,
      AKS_EVIDENCE_CONTAINER: 'evidence',
    });
    expect(both).toEqual([{ setting: SETTING.connectionString, message: expect.stringContaining('not both') }]);
    expect(JSON.stringify(both)).not.toContain('AccountKey=');
  });

  it('finds the blob endpoint of each connection-string form', () => {
    expect(blobEndpointOf('AccountName=acct;AccountKey=x;EndpointSuffix=core.usgovcloudapi.net')).toBe('https://acct.blob.core.usgovcloudapi.net');
    expect(blobEndpointOf('BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=1')).toBe('https://acct.blob.core.windows.net');
    expect(blobEndpointOf('nonsense')).toBeUndefined();
  });

  it('local.settings.sample.json lists every setting the app reads, and its values load', async () => {
    const sample = JSON.parse(await readFile(new URL('../../local.settings.sample.json', import.meta.url), 'utf8')) as { Values: Record<string, string> };
    for (const name of Object.values(SETTING)) {
      if (name === SETTING.hostName) continue; // set by App Service itself
      expect(Object.keys(sample.Values)).toContain(name);
    }
    expect(sample.Values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    const s = loadAppSettings(sample.Values);
    expect(s.evidence.containerUrl).toBe('http://127.0.0.1:10000/devstoreaccount1/evidence');
  });
});
