// Whether a configuration file that makes a tool run programs may be trusted.
// pgBackRest's config file names commands it runs (cmd=, and the
// archive/restore commands it writes), and Lookout running as root runs
// pgbackrest as the file's owner: whoever may write the file, or replace it
// in its directory, may run any program as that user. The file must be a
// regular file writable by its owner alone, in a directory writable by its
// owner alone (or sticky, like /tmp) and owned by root or the file's owner.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** The file cannot be trusted, or read; the message names the file, its mode and owner, and what to do. */
export class UntrustedConfigFileError extends Error {
  override name = 'UntrustedConfigFileError';
  constructor(
    message: string,
    /** True when the file (or its directory) could not be read at all, rather than found untrustworthy. */
    readonly unreadable = false,
  ) {
    super(message);
  }
}

/** A config file's owner, as checkConfigFileTrust found it. */
export interface ConfigFileOwner {
  uid: number;
  gid: number;
}

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

/**
 * Checks `file` (`name` is what the operator calls it: PGBACKREST_CONFIG) as
 * the header says: symlinks are followed to the file itself, whose directory
 * is the one checked. Returns its owner.
 * @throws UntrustedConfigFileError when it cannot be read, is not a regular file, or it or its directory may be written by others
 */
export async function checkConfigFileTrust(file: string, name: string): Promise<ConfigFileOwner> {
  const cannot = (err: NodeJS.ErrnoException): never => {
    throw new UntrustedConfigFileError(`${name} ${file} cannot be read: ${err.code ?? err.message}`, true);
  };
  const real = await realpath(file).catch(cannot);
  const st = await stat(real).catch(cannot);
  const shown = real === file ? file : `${file} (${real})`;
  if (!st.isFile()) throw new UntrustedConfigFileError(`${name} ${shown} is not a regular file`);
  if (st.mode & 0o022) {
    throw new UntrustedConfigFileError(
      `${name} ${shown} is ${st.mode & 0o002 ? 'world' : 'group'}-writable (mode ${octal(st.mode)}, owner uid ${st.uid}): ` +
        `whoever can write it can make pgbackrest run any program; chmod go-w ${real}`,
    );
  }
  const dir = path.dirname(real);
  const d = await stat(dir).catch(cannot);
  if (d.mode & 0o022 && !(d.mode & 0o1000)) {
    throw new UntrustedConfigFileError(
      `${name} ${shown} is in ${dir}, which is ${d.mode & 0o002 ? 'world' : 'group'}-writable (mode ${octal(d.mode)}): ` +
        `whoever can write there can replace the file; chmod go-w ${dir}`,
    );
  }
  if (d.uid !== 0 && d.uid !== st.uid) {
    throw new UntrustedConfigFileError(
      `${name} ${shown} is in ${dir}, owned by uid ${d.uid}, neither root nor the file's owner (uid ${st.uid}): that user can replace the file`,
    );
  }
  return { uid: st.uid, gid: st.gid };
}
