import type { StorageAccess } from '../evidence/openStore.js';
import { defaultAzureCredential } from '../util/azureCredential.js';
import type { CliIo } from './io.js';

/**
 * How the CLI reaches Blob Storage: AZURE_STORAGE_CONNECTION_STRING when set (Azurite, a dev
 * account), otherwise DefaultAzureCredential (az login, a managed identity, environment).
 */
export async function cliStorageAccess(io: CliIo): Promise<StorageAccess> {
  const connectionString = io.env.AZURE_STORAGE_CONNECTION_STRING;
  return connectionString ? { connectionString } : { credential: await defaultAzureCredential() };
}
