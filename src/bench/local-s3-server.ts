// A local S3 protocol server for the tests and `npm run bench`: s3rver (a
// development dependency) in a child process of its own, on 127.0.0.1 at a
// port the system picks, keeping its objects in a directory of the caller's.
// Lookout talks to it as to any S3 endpoint (S3_ENDPOINT, path-style,
// credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
//
// Its own process, so that its work is not counted on the caller's event
// loop (a real store runs elsewhere), and started with
// --openssl-legacy-provider: s3rver makes ListObjectsV2 continuation tokens
// with DES, which OpenSSL 3 keeps in its legacy provider; without it every
// listing of more than one page fails with a 500. Nothing in Lookout knows it
// talks to s3rver.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The credentials s3rver accepts (its fixed account). */
export const LOCAL_S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

export interface LocalS3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /**
   * What a Lookout process needs to use `bucket` as its blob store:
   * BLOB_STORE, S3_* and the credentials, plus AWS_EC2_METADATA_DISABLED so
   * that the SDK never looks for an instance role off this machine.
   */
  env(bucket: string, prefix?: string): Record<string, string>;
  child: ChildProcess;
  /** CPU the server process has used so far, in core-milliseconds (Linux /proc; NaN elsewhere). */
  cpuMs(): number;
  /** Stops the server (its directory stays the caller's). */
  close(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1 with `buckets` created (S3 names: 3 to 63
 * characters), keeping its data in `directory`.
 * @throws when it has not said where it listens within `readyTimeoutMs`
 */
export async function startLocalS3Server(options: { directory: string; buckets: string[]; readyTimeoutMs?: number }): Promise<LocalS3Server> {
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const args = ['--openssl-legacy-provider', bin, '--directory', options.directory, '--address', '127.0.0.1', '--port', '0', '--silent'];
  for (const bucket of options.buckets) args.push('--configure-bucket', bucket);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start within ${options.readyTimeoutMs ?? 15_000} ms:\n${output}`));
    }, options.readyTimeoutMs ?? 15_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      const listening = /S3rver listening on [^:]+:(\d+)/.exec(output);
      if (listening) {
        clearTimeout(timer);
        resolve(Number(listening[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited before it listened:\n${output}`));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    child,
    env: (bucket, prefix) => ({
      BLOB_STORE: 's3',
      S3_BUCKET: bucket,
      ...(prefix ? { S3_PREFIX: prefix } : {}),
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      ...LOCAL_S3_CREDENTIALS,
      AWS_EC2_METADATA_DISABLED: 'true',
    }),
    cpuMs() {
      try {
        // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (USER_HZ = 100).
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(fields[11]) + Number(fields[12])) * 10;
      } catch {
        return NaN;
      }
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
