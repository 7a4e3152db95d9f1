import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import type { KubeConfigLike } from '../cluster/kubeConfig.js';
import { KubeApi, kubeErrorStatus } from '../cluster/kubeApi.js';
import { AksEvidenceError, describeError, redactUrl } from '../util/errors.js';
import type { CliIo } from './io.js';

/** Which kubeconfig a command reads, and whether its API server answers: shared by collect and watch. */

/** --kubeconfig, else $KUBECONFIG (a path list, like kubectl), else ~/.kube/config. */
export function kubeconfigPaths(flag: string | undefined, io: CliIo): string[] {
  if (flag) return [resolve(io.cwd, flag)];
  const env = io.env.KUBECONFIG;
  if (env)
    return env
      .split(delimiter)
      .filter(Boolean)
      .map((p) => resolve(io.cwd, p));
  const home = io.env.HOME ?? io.env.USERPROFILE ?? homedir();
  return [join(home, '.kube', 'config')];
}

/** Fail fast, in one clear line, when the API server cannot be reached or refuses the credentials. */
export async function checkReachable(kc: KubeConfigLike, server: string, timeoutMs = 15_000): Promise<string | undefined> {
  try {
    const version = await KubeApi.for(kc).getJsonOnce<{ gitVersion?: string }>('/version', undefined, { timeoutInMs: timeoutMs });
    return version.gitVersion;
  } catch (error) {
    const status = kubeErrorStatus(error);
    const causeCodes = causeChain(error).join(' ');
    let hint = 'check the kubeconfig context (--context), network access to the API server (VPN, private cluster), and that the cluster is running';
    if (status === 401) hint = 'the credentials were rejected (401): refresh them, e.g. az aks get-credentials, or a new token';
    else if (status === 403) hint = 'the identity may not read /version (403): it lacks basic discovery rights on the cluster';
    else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/i.test(causeCodes)) hint = 'the server certificate is not trusted: check certificate-authority-data in the kubeconfig';
    else if (error instanceof AksEvidenceError && error.code === 'ERR_EXEC_CREDENTIAL')
      hint = "the kubeconfig user's exec credential plugin gave no credential: run it yourself (e.g. kubelogin) or fix the kubeconfig";
    throw new AksEvidenceError('ERR_UNREACHABLE', `cannot use the Kubernetes API server at ${redactUrl(server)}: ${describeError(error)}. Fix: ${hint}`, { cause: error });
  }
}

/** The codes and messages along an error's cause chain (TLS failures hide one level down). */
function causeChain(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    out.push(`${typeof code === 'string' ? code : ''} ${current.message}`);
    current = current.cause;
  }
  return out;
}
