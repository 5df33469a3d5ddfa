// A real S3 protocol server for a test file: s3rver in a child process on
// 127.0.0.1 (random port), its objects in a temp directory, the named buckets
// created. The credentials it accepts are put in this process's environment,
// where the AWS SDK's default chain finds them (for in-process services and
// for the worker processes a test spawns, which inherit it).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/blobs/s3-client.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3Server, type LocalS3Server } from '../../src/bench/local-s3-server.js';

export interface TestS3Server {
  endpoint: string;
  /** BLOB_STORE=s3 and the S3_* variables for `bucket` (and `prefix`), with the credentials. */
  env(bucket: string, prefix?: string): Record<string, string>;
  /** A client of its own, for looking into the buckets behind Lookout's back. */
  client: S3Client;
  /** Every object key in `bucket` (under `prefix`), sorted, read with ListObjectsV2. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  server: LocalS3Server;
  close(): Promise<void>;
}

/** Starts s3rver with `buckets` (3 to 63 characters each). */
export async function startS3Server(buckets: string[]): Promise<TestS3Server> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'lookout-s3rver-'));
  const server = await startLocalS3Server({ directory, buckets });
  Object.assign(process.env, LOCAL_S3_CREDENTIALS, { AWS_EC2_METADATA_DISABLED: 'true' });
  const client = createS3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true });
  return {
    endpoint: server.endpoint,
    env: (bucket, prefix) => server.env(bucket, prefix),
    client,
    server,
    async keys(bucket, prefix = '') {
      const keys: string[] = [];
      for await (const page of paginateListObjectsV2({ client, pageSize: 100 }, { Bucket: bucket, Prefix: prefix })) {
        for (const object of page.Contents ?? []) keys.push(object.Key!);
      }
      return keys.sort();
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
