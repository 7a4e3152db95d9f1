/**
 * The Function App settings the template writes, named as shared/config/appSettings.ts
 * (SETTING) reads them. Kept here so generating the template does not load the Functions
 * configuration module and everything it imports; test/infra/appSettings.test.ts proves the
 * two agree and that the settings the template produces pass loadAppSettings().
 */
export const APP_SETTING = {
  accountUrl: 'AKS_EVIDENCE_STORAGE_ACCOUNT_URL',
  container: 'AKS_EVIDENCE_CONTAINER',
  ingestion: 'AKS_EVIDENCE_INGESTION',
  defaultSources: 'AKS_EVIDENCE_DEFAULT_SOURCES',
  concurrency: 'AKS_EVIDENCE_CONCURRENCY',
  tsaUrl: 'AKS_EVIDENCE_TSA_URL',
  defaultClusters: 'AKS_EVIDENCE_DEFAULT_CLUSTERS',
  sentinelPreserveFor: 'AKS_EVIDENCE_SENTINEL_PRESERVE_FOR',
  clientId: 'AZURE_CLIENT_ID',
} as const;
