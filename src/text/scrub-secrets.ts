// Text another program wrote (pgBackRest's stderr, Postgres's archive_command)
// made safe to show: the value of every option or variable whose name says it
// holds a secret is replaced. pgBackRest keeps its repository cipher pass and
// object-store keys in its config file, but an operator may still have put one
// on a command line (`--repo1-cipher-pass=...`) or in its environment
// (`PGBACKREST_REPO1_CIPHER_PASS=...`): neither reaches a log, a job or an
// answer through Lookout.

const MASK = '********';

/** An option or variable name that holds a secret: pgBackRest's cipher-pass, s3-key(-secret), token, and the usual words. */
const SECRET_NAME = '[A-Za-z0-9_-]*(?:pass|passwd|password|secret|token|key)[A-Za-z0-9_-]*';

const PATTERNS: readonly RegExp[] = [
  // --repo1-cipher-pass=VALUE, repo1-s3-key-secret=VALUE, PGBACKREST_REPO1_CIPHER_PASS=VALUE, password: VALUE
  new RegExp(`(\\b${SECRET_NAME}\\s*[=:]\\s*)("[^"]*"|'[^']*'|\\S+)`, 'gi'),
  // --repo1-cipher-pass VALUE (a separate argument)
  new RegExp(`(--${SECRET_NAME}\\s+)("[^"]*"|'[^']*'|[^\\s-]\\S*)`, 'gi'),
];

/** `text` with the value of every secret-named option or variable masked; the rest as it was. */
export function scrubSecrets(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const pattern of PATTERNS) out = out.replace(pattern, (_, name: string) => `${name}${MASK}`);
  // A secret the caller knows (read from nowhere else): never shown, wherever it appears.
  for (const secret of known) if (secret.length >= 4) out = out.split(secret).join(MASK);
  return out;
}
