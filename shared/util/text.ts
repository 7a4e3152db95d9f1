/**
 * One line of untrusted text for a terminal, a log or an error message: control characters
 * escaped (attacker-written log lines may carry terminal escapes; a newline becomes "\n"),
 * cut at `max` characters.
 */
export function oneLine(text: string, max = 400): string {
  // eslint-disable-next-line no-control-regex
  const s = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
