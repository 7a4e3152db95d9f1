/**
 * Last line of defence for text that goes into orchestration history, logs or HTTP answers:
 * errors from SDKs sometimes quote requests. Messages are written not to carry secrets; this
 * removes what slips through anyway.
 */
const PATTERNS: [RegExp, string][] = [
  // Credentials in URLs: userinfo (https://user:password@host), and whole query strings
  // (SAS sig=, Durable system keys code=, tokens some proxies take as parameters).
  [/(\bhttps?:\/\/[^\s?#"'<>]+)\?(?!<redacted>)[^\s#"'<>]*/gi, '$1?<redacted>'],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi, '$1<redacted>@'],
  // Authorization headers and bearer tokens.
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 <redacted>'],
  // JWTs (Entra, Kubernetes service account tokens).
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, '<redacted-jwt>'],
  // SAS signatures and storage keys in connection strings.
  [/([?&]sig=)[^&\s"']+/gi, '$1<redacted>'],
  [/(AccountKey=)[^;\s"']+/gi, '$1<redacted>'],
  // Durable Functions system keys ("code=<key>" in management URLs and the extension's own texts): the name goes too.
  [/\bcode=[^&\s"',;]+/gi, '<redacted-key>'],
  // kubeconfig material.
  [/((?:client-key-data|client-certificate-data|certificate-authority-data|token)\s*:\s*)\S+/gi, '$1<redacted>'],
  [/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g, '<redacted-pem>'],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return out;
}
