// The one way Lookout makes an S3 client: region, endpoint and addressing
// style from configuration (S3_REGION, S3_ENDPOINT, S3_FORCE_PATH_STYLE),
// everything else the AWS SDK's own. A client is not tied to a bucket: the
// blob store is handed one, and whatever later reads objects from other
// buckets can be handed the same.
//
// Credentials come only from the SDK's default chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, web identity,
// container and instance roles): Lookout has no variable of its own for them,
// never reads them and never logs them. The SDK's logger stays its silent
// default.
//
// Checksums are the SDK's defaults (requestChecksumCalculation and
// responseChecksumValidation WHEN_SUPPORTED: a CRC32 sent with every upload
// and part, checked by the store). Nothing here overrides them, so the SDK's
// standard settings still apply: an S3-compatible store too old for those
// checksums is served with AWS_REQUEST_CHECKSUM_CALCULATION=when_required and
// AWS_RESPONSE_CHECKSUM_VALIDATION=when_required (or request_checksum_calculation
// in the shared config file), the same for every endpoint; see README.

import { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../config/config.js';

/**
 * An S3 client for `settings`: `region` (signing region, e.g. us-east-1),
 * `endpoint` (a URL such as http://minio:9000; undefined: AWS's own for the
 * region) and `forcePathStyle` (bucket in the path, not the host name: what
 * MinIO and most S3-compatible stores behind one host name need). Follows
 * AWS's region redirects, so a bucket in another region is still read.
 * Close it with client.destroy().
 */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    followRegionRedirects: true,
  });
}
