/**
 * The one command the collector execs in a container to read shell histories, without
 * kubectl and without copying files. POSIX sh (ash, dash, bash, zsh all run it), read-only.
 *
 * Output protocol on stdout, for every regular file matching the globs:
 *   "@@aks-evidence-file <bytes> <path>\n" followed by exactly <bytes> bytes of content.
 * Nothing else is printed; a container with no history files prints nothing and exits 0.
 * Sizes are in bytes (wc -c), so content may contain anything, markers included.
 */
export const HISTORY_GLOBS = ['/root/.*history', '/home/*/.*history'] as const;

/**
 * The tools the script needs besides the shell. Checked first: without one of them the framing
 * would break (a missing `head` prints the markers with no content, and the next marker would be
 * read as the previous file's commands), so the script prints nothing on stdout and exits 127
 * naming the tool, and the container is an exec-failed gap instead of rows of invented commands.
 */
export const HISTORY_TOOLS = ['wc', 'tr', 'head'] as const;

/** The loop that prints every history file (the whole script of aks-evidence before the tools check). */
const HISTORY_LOOP =
  `for f in ${HISTORY_GLOBS.join(' ')}; do ` +
  `[ -f "$f" ] || continue; ` +
  `n=$(wc -c < "$f" | tr -d ' '); ` +
  `printf '@@aks-evidence-file %s %s\\n' "$n" "$f"; ` +
  `head -c "$n" "$f"; ` +
  `done`;

export const HISTORY_SCRIPT =
  `for t in ${HISTORY_TOOLS.join(' ')}; do command -v "$t" >/dev/null 2>&1 || { echo "aks-evidence: $t not found in the container" >&2; exit 127; }; done; ` + HISTORY_LOOP;

/**
 * Every version of the script aks-evidence has run, newest first: audit logs kept from earlier
 * collections show the older ones, and the timeline still recognises them as the collector's.
 */
export const HISTORY_SCRIPT_VERSIONS: readonly string[] = [HISTORY_SCRIPT, HISTORY_LOOP];

/**
 * The exec argv: the shell is tried in this order; a container without any is a 'no-shell' gap.
 * Only two: an image with ash or zsh also ships /bin/sh, and every extra attempt on a
 * distroless container is one more exec in the victim's audit log (forensically quiet).
 */
export const HISTORY_SHELLS = ['/bin/sh', '/bin/bash'] as const;

export function historyCommand(shell: string = HISTORY_SHELLS[0]): string[] {
  return [shell, '-c', HISTORY_SCRIPT];
}

export const HISTORY_FILE_MARKER = '@@aks-evidence-file ';
