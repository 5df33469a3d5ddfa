// BLOB_STORE and the S3_* variables: defaults, the s3 store's settings, each
// bad value named, S3_BUCKET required with s3, and BLOB_DIR out of the
// configuration (so out of every process) once the store is s3; from the
// library and from `lookout config check`.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { configWarnings, unusedVariableWarnings } from '../../src/config/config-warnings.js';
import { runCli } from '../helpers/run-cli.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return {};
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return Object.fromEntries(err.problems.map((p) => [p.variable, p.message]));
  }
};

describe('BLOB_STORE', () => {
  it('is fs by default: BLOB_DIR, made absolute; S3 defaults to us-east-1, AWS endpoints, virtual-hosted style', () => {
    const config = loadConfig({});
    expect(config.blobs).toEqual({ store: 'fs', dir: path.resolve('data/blobs') });
    expect(config.s3).toEqual({ region: 'us-east-1', endpoint: undefined, forcePathStyle: false });
    expect(loadConfig({ BLOB_DIR: '/srv/blobs', S3_BUCKET: 'ignored-with-fs' }).blobs).toEqual({ store: 'fs', dir: '/srv/blobs' });
  });

  it('S3_BUCKET or S3_PREFIX with BLOB_STORE=fs: unused, and said so (config check, server start); nothing said otherwise', () => {
    const warned = (env: Record<string, string>) => unusedVariableWarnings(loadConfig(env));
    expect(warned({ BLOB_DIR: '/srv/blobs', S3_BUCKET: 'meant-for-images' })).toEqual([
      'S3_BUCKET is set but BLOB_STORE is fs (the default): uploaded images are kept in BLOB_DIR (/srv/blobs), not in a bucket; set BLOB_STORE=s3 to keep them in S3_BUCKET, or unset S3_BUCKET',
    ]);
    expect(warned({ BLOB_STORE: 'fs', S3_BUCKET: 'bucket', S3_PREFIX: 'p/' })[0]).toMatch(/^S3_BUCKET and S3_PREFIX are set but BLOB_STORE is fs/);
    expect(warned({ S3_PREFIX: 'p/' })[0]).toMatch(/^S3_PREFIX is set but/);
    // Used by submit by reference whatever the store: never unused.
    expect(warned({ S3_ENDPOINT: 'http://127.0.0.1:9', S3_REGION: 'eu-west-3', S3_FORCE_PATH_STYLE: 'true', SUBMIT_S3_BUCKETS: 'photos' })).toEqual([]);
    expect(warned({ BLOB_STORE: 's3', S3_BUCKET: 'bucket', S3_PREFIX: 'p/' })).toEqual([]);
    expect(warned({})).toEqual([]);
    expect(configWarnings(loadConfig({ S3_BUCKET: 'bucket' }))).toContainEqual(expect.stringMatching(/^S3_BUCKET is set but BLOB_STORE is fs/));
  });

  it('s3: the bucket, the prefix ending in one /, the endpoint, region and path style; BLOB_DIR nowhere', () => {
    const config = loadConfig({
      BLOB_STORE: 's3',
      S3_BUCKET: 'lookout-images',
      S3_PREFIX: 'fleet/a',
      S3_ENDPOINT: 'http://minio:9000',
      S3_REGION: 'eu-west-3',
      S3_FORCE_PATH_STYLE: 'true',
      BLOB_DIR: '/a/path/nothing/may/use',
    });
    expect(config.blobs).toEqual({ store: 's3', bucket: 'lookout-images', prefix: 'fleet/a/' });
    expect(config.s3).toEqual({ region: 'eu-west-3', endpoint: 'http://minio:9000', forcePathStyle: true });
    expect(JSON.stringify(config)).not.toContain('/a/path/nothing/may/use');
    expect(loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'b.c-d', S3_PREFIX: 'x//' }).blobs).toEqual({ store: 's3', bucket: 'b.c-d', prefix: 'x/' });
    expect(loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'abc' }).blobs).toEqual({ store: 's3', bucket: 'abc', prefix: '' });
  });

  it('s3 without S3_BUCKET is refused, naming it', () => {
    expect(problemsOf({ BLOB_STORE: 's3' })).toEqual({ S3_BUCKET: 'required with BLOB_STORE=s3: the bucket that keeps the uploaded images' });
  });

  it('names each bad value and what it expects', () => {
    expect(
      problemsOf({
        BLOB_STORE: 'gcs',
        S3_BUCKET: 'My_Bucket',
        S3_PREFIX: '/images',
        S3_ENDPOINT: 'minio:9000',
        S3_REGION: 'us east',
        S3_FORCE_PATH_STYLE: 'maybe',
      }),
    ).toEqual({
      BLOB_STORE: 'expected fs or s3, got "gcs"',
      S3_BUCKET: 'expected a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, got "My_Bucket"',
      S3_PREFIX: 'expected a key prefix without a leading / (e.g. lookout/), got "/images"',
      S3_ENDPOINT: 'expected an http(s) URL such as http://minio:9000, got "minio:9000"',
      S3_REGION: 'expected a region name such as us-east-1, got "us east"',
      S3_FORCE_PATH_STYLE: 'expected true or false, got "maybe"',
    });
    for (const bucket of ['ab', 'a'.repeat(64), '-abc', 'abc.', 'ABC']) expect(problemsOf({ S3_BUCKET: bucket }), bucket).toHaveProperty('S3_BUCKET');
    expect(problemsOf({ S3_PREFIX: 'a/../b' })).toEqual({ S3_PREFIX: 'expected a key prefix without . or .. segments, got "a/../b"' });
  });

  it('refuses credentials in S3_ENDPOINT without showing them: they come from the SDK default chain', () => {
    const problems = problemsOf({ S3_ENDPOINT: 'http://AKIAEXAMPLE:hunter2@minio:9000' });
    expect(problems.S3_ENDPOINT).toMatch(
      /^must not carry credentials \(user:password@\): they come from the AWS SDK's default chain .*, got ".*" \(password masked\)$/,
    );
    expect(problems.S3_ENDPOINT).not.toContain('hunter2');
  });
});

describe('lookout config check', () => {
  it('with BLOB_STORE=s3 shows the bucket, never BLOB_DIR or a credential', async () => {
    // BLOB_DIR under a regular file: unusable, and unused.
    const file = path.join(os.tmpdir(), `lookout-not-a-dir-${process.pid}`);
    await writeFile(file, 'a file');
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const { code, stdout, stderr } = await runCli(['config', 'check'], {
      env: {
        BLOB_STORE: 's3',
        S3_BUCKET: 'lookout-images',
        S3_ENDPOINT: 'http://127.0.0.1:9',
        S3_FORCE_PATH_STYLE: 'true',
        BLOB_DIR: path.join(file, 'blobs'),
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEEXAMPLE',
        AWS_SECRET_ACCESS_KEY: secret,
      },
    });
    expect(code, stderr).toBe(0);
    const shown = JSON.parse(stdout) as Record<string, any>;
    expect(shown.blobs).toEqual({ store: 's3', bucket: 'lookout-images', prefix: '' });
    expect(shown.s3).toEqual({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9/', forcePathStyle: true });
    expect(stdout).not.toContain('blobDir');
    expect(stdout + stderr).not.toContain(file);
    expect(stdout + stderr).not.toContain(secret);
    expect(stdout + stderr).not.toContain('AKIAEXAMPLEEXAMPLE');
  });

  it('warns on stderr when S3_BUCKET is set but BLOB_STORE is fs', async () => {
    const { code, stderr } = await runCli(['config', 'check'], { env: { S3_BUCKET: 'meant-for-images', BACKUP_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') } });
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/warning: S3_BUCKET is set but BLOB_STORE is fs/);
  });

  it('refuses BLOB_STORE=s3 without a bucket: exit 2, S3_BUCKET named', async () => {
    const { code, stderr } = await runCli(['config', 'check'], { env: { BLOB_STORE: 's3' } });
    expect(code).toBe(2);
    expect(stderr).toContain('S3_BUCKET: required with BLOB_STORE=s3');
  });
});
