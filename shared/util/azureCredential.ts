import type { DefaultAzureCredentialClientIdOptions, TokenCredential } from '@azure/identity';

/**
 * A DefaultAzureCredential, with @azure/identity loaded on first use: a collection to a local
 * directory never loads the Azure SDKs (tens of MB of resident memory it would not use).
 */
export async function defaultAzureCredential(options?: DefaultAzureCredentialClientIdOptions): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return options ? new DefaultAzureCredential(options) : new DefaultAzureCredential();
}
