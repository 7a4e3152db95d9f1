import type { TokenCredential } from '@azure/identity';

/**
 * A DefaultAzureCredential, with @azure/identity loaded on first use: a collection to a local
 * directory never loads the Azure SDKs (tens of MB of resident memory it would not use).
 */
export async function defaultAzureCredential(): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}
