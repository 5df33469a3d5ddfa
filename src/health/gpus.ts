// GPUs as nvidia-smi reports them; undefined where there is no nvidia-smi.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GpuReading {
  index: number;
  name: string;
  utilization: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  temperatureC: number;
}

export async function readGpus(timeoutMs = 3000): Promise<GpuReading[] | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      'nvidia-smi',
      ['--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu', '--format=csv,noheader,nounits'],
      { timeout: timeoutMs },
    ));
  } catch {
    return undefined;
  }
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [index, name, util, used, total, temp] = line.split(',').map((s) => s.trim());
      return {
        index: Number(index),
        name: name ?? 'gpu',
        utilization: Number(util) / 100,
        memoryUsedBytes: Number(used) * 1024 * 1024,
        memoryTotalBytes: Number(total) * 1024 * 1024,
        temperatureC: Number(temp),
      };
    });
}
