/**
 * The one command the collector execs in a container to read shell histories, without
 * kubectl and without copying files. POSIX sh (ash, dash, bash, zsh all run it), read-only.
 *
 * Output protocol on stdout, for every regular file matching the globs:
 *   "@@aks-evidence-file <bytes> <path>\n", exactly <bytes> bytes of content, then
 *   "\n@@aks-evidence-end <bytes>\n".
 * Nothing else is printed; a container with no history files prints nothing and exits 0.
 * Sizes are in bytes (wc -c), so content may contain anything, markers included. The end
 * marker proves each file whole: a file that shrinks between `wc -c` and `head -c` (cleared
 * while it is read) leaves fewer bytes than announced, the marker is not where the size says,
 * and the parser refuses the file instead of reading the next file's header as its commands.
 */
export const HISTORY_GLOBS = ['/root/.*history', '/home/*/.*history'] as const;

/**
 * The tools the script needs besides the shell. Checked first: without one of them the framing
 * would break (a missing `head` prints the markers with no content, and the next marker would be
 * read as the previous file's commands), so the script prints nothing on stdout and exits 127
 * naming the tool, and the container is an exec-failed gap instead of rows of invented commands.
 */
export const HISTORY_TOOLS = ['wc', 'tr', 'head'] as const;

/** The loop that prints every history file; `end` is printed after each file's content. */
function historyLoop(end: string): string {
  return (
    `for f in ${HISTORY_GLOBS.join(' ')}; do ` +
    `[ -f "$f" ] || continue; ` +
    `n=$(wc -c < "$f" | tr -d ' '); ` +
    `printf '@@aks-evidence-file %s %s\\n' "$n" "$f"; ` +
    `head -c "$n" "$f"; ` +
    end +
    `done`
  );
}

const TOOLS_CHECK = `for t in ${HISTORY_TOOLS.join(' ')}; do command -v "$t" >/dev/null 2>&1 || { echo "aks-evidence: $t not found in the container" >&2; exit 127; }; done; `;

export const HISTORY_SCRIPT = TOOLS_CHECK + historyLoop(`printf '\\n@@aks-evidence-end %s\\n' "$n"; `);

/**
 * Every version of the script aks-evidence has run, newest first: audit logs kept from earlier
 * collections show the older ones, and the timeline still recognises them as the collector's.
 * (Before the end marker: the tools check and the loop; before the tools check: the loop alone.)
 */
export const HISTORY_SCRIPT_VERSIONS: readonly string[] = [HISTORY_SCRIPT, TOOLS_CHECK + historyLoop(''), historyLoop('')];

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
export const HISTORY_END_MARKER = '@@aks-evidence-end ';

/** What follows a file's <size> bytes of content: its end marker on a line of its own. */
export function historyFileTrailer(size: number): string {
  return `\n${HISTORY_END_MARKER}${size}\n`;
}
