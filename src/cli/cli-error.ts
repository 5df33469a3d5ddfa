// An expected failure of a CLI command: main() prints its message on stderr,
// without a stack trace, and exits with its code.

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** 1: the command could not do its work; 2: the command line or its input was wrong. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}
