// Text another program wrote (pgBackRest's stderr, Postgres's archive_command)
// made safe to show: the value of every option or variable whose name says it
// holds a secret is replaced. pgBackRest keeps its repository cipher pass and
// object-store keys in its config file, but an operator may still have put one
// on a command line (`--repo1-cipher-pass=...`) or in its environment
// (`PGBACKREST_REPO1_CIPHER_PASS=...`): neither reaches a log, a job or an
// answer through Lookout.
//
// pgBackRest's own errors about its configuration quote the offending text
// ("missing '=' in key/value at line 4: repo1-cipher-pass hunter2", "'hunter2'
// is not allowed for 'repo1-cipher-type' option"): a typo can put a secret in
// any of them, so what they quote is masked whole, whatever the key. A line
// that names a cipher pass at all is masked after the name.

const MASK = '********';

/** An option or variable name that holds a secret: pgBackRest's cipher-pass, s3-key(-secret), token, and the usual words. */
const SECRET_NAME = '[A-Za-z0-9_-]*(?:pass|passwd|password|secret|token|key)[A-Za-z0-9_-]*';

/** The rest of a line, up to its end. */
const LINE_REST = '[^\\n]*';
/** The rest of a line up to " | ", the separator between the lines of a tool's output Lookout joined into one message (each scrubbed already). */
const JOINED_REST = '(?:(?! \\| )[^\\n])*';

/** What pgBackRest says after quoting an option's value ('%s' is not allowed for '%s' option, and its siblings). */
const VALUE_VERDICT =
  "(?:is not valid|is not allowed|is out of range|not valid|must be >= \\d+ characters?|must begin with /|cannot contain //) for (?:'[^'\\n]*' option|option '[^'\\n]*')";

type Pattern = [RegExp, (match: string, ...groups: string[]) => string];

const patterns = (REST: string): readonly Pattern[] => [
  // pgBackRest's ini parser quotes the line it could not read: "... at line 4: TEXT", "invalid JSON value at line 4 'TEXT': ..."
  [new RegExp(`(\\bat line \\d+)${REST}`, 'gi'), (_, head) => `${head}: ${MASK}`],
  [new RegExp(`(\\bescape character not allowed in key at:\\s*)${REST}`, 'gi'), (_, head) => `${head}${MASK}`],
  // An option's value it refused: "'TEXT' is not allowed for 'repo1-cipher-type' option" (TEXT may hold quotes: greedy to the verdict)
  [new RegExp(`'[^\\n]*'(\\s+${VALUE_VERDICT})`, 'gi'), (_, verdict) => `'${MASK}'${verdict}`],
  [new RegExp(`(\\bvalue )'[^\\n]*'( is not valid\\b)`, 'gi'), (_, head, tail) => `${head}'${MASK}'${tail}`],
  [new RegExp(`(\\binvalid value for '[^'\\n]*' option:\\s*)${REST}`, 'gi'), (_, head) => `${head}${MASK}`],
  // Any line naming a cipher pass: everything after the name (and its = or :) is masked.
  [new RegExp(`(\\b[A-Za-z0-9_-]*cipher[-_]pass[A-Za-z0-9_-]*['"]?(?:\\s*[=:]\\s*|\\s+)?)${REST}`, 'gi'), (_, head) => `${head}${MASK}`],
  // --repo1-s3-key-secret=VALUE, PGBACKREST_REPO1_S3_KEY=VALUE, password: VALUE
  [new RegExp(`(\\b${SECRET_NAME}\\s*[=:]\\s*)("[^"]*"|'[^']*'|\\S+)`, 'gi'), (_, name) => `${name}${MASK}`],
  // --repo1-s3-key-secret VALUE (a separate argument)
  [new RegExp(`(--${SECRET_NAME}\\s+)("[^"]*"|'[^']*'|[^\\s-]\\S*)`, 'gi'), (_, name) => `${name}${MASK}`],
];

const LINE_PATTERNS = patterns(LINE_REST);
const JOINED_PATTERNS = patterns(JOINED_REST);

function scrub(text: string, list: readonly Pattern[], known: readonly string[]): string {
  let out = text;
  for (const [pattern, replace] of list) out = out.replace(pattern, replace);
  // A secret the caller knows (read from nowhere else): never shown, wherever it appears.
  for (const secret of known) if (secret.length >= 4) out = out.split(secret).join(MASK);
  return out;
}

/**
 * `text` with the value of every secret-named option or variable masked, and
 * whatever pgBackRest quotes from its configuration in an error; the rest as
 * it was. Each line is scrubbed on its own.
 */
export function scrubSecrets(text: string, known: readonly string[] = []): string {
  return scrub(text, LINE_PATTERNS, known);
}

/**
 * As scrubSecrets, for a message whose lines were scrubbed one by one and
 * joined with " | " (lastLines in src/backups/pitr/pgbackrest.ts): what a
 * quoting line quotes is masked up to the next " | ", so the lines after it
 * stay readable. Raw text goes through scrubSecrets first.
 */
export function scrubJoinedLines(text: string): string {
  return scrub(text, JOINED_PATTERNS, []);
}
