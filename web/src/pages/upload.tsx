// Upload by drag-and-drop or the file picker: split into requests within the
// server's limits, one progress bar over all bytes, then on to the batch.
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { formatBytes, planUploads, type Client, type Info } from '../api.js';
import { ErrorNote, Page, ProgressBar } from '../components/common.js';
import { navigate } from '../router.js';
import { MEDIA_TYPES, sniffImageFormat } from '../../../src/detection/image-signature.js';
import { plural } from '../../../src/text/format.js';

const IMAGE_TYPES = Object.values(MEDIA_TYPES).join(',');

export function UploadPage({ client }: { client: Client }) {
  const [info, setInfo] = useState<Info>();
  const [files, setFiles] = useState<File[]>([]);
  // Dropped files that are not images by their first bytes (as the server judges them).
  const [notImages, setNotImages] = useState<string[]>([]);
  const [model, setModel] = useState('');
  const [minScore, setMinScore] = useState('');
  const [sent, setSent] = useState<{ bytes: number; total: number } | null>(null);
  const [error, setError] = useState<Error>();
  const [over, setOver] = useState(false);
  const [done, setDone] = useState<string[]>([]);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    client.get<Info>('/v1/info').then(setInfo, (err: Error) => setError(err));
  }, [client]);

  const add = async (list: FileList | null) => {
    if (!list) return;
    // Copied now: the input's FileList empties when its value is reset.
    const added = Array.from(list);
    setDone([]);
    const judged = await Promise.all(
      added.map(async (f) => ({ f, image: sniffImageFormat(new Uint8Array(await f.slice(0, 16).arrayBuffer())) !== undefined })),
    );
    setFiles((prev) => [...prev, ...judged.filter((j) => j.image).map((j) => j.f)]);
    setNotImages((prev) => [...prev, ...judged.filter((j) => !j.image).map((j) => j.f.name)]);
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void add(e.dataTransfer.files);
  };

  const plan = info ? planUploads(files, info.limits) : undefined;
  const totalBytes = plan ? plan.requests.flat().reduce((n, f) => n + f.size, 0) : 0;

  const upload = async () => {
    if (!plan || plan.requests.length === 0) return;
    setError(undefined);
    const score = minScore.trim() === '' ? undefined : Number(minScore);
    let before = 0;
    const ids: string[] = [];
    setSent({ bytes: 0, total: totalBytes });
    try {
      for (const request of plan.requests) {
        const requestBytes = request.reduce((n, f) => n + f.size, 0);
        const batch = await client.uploadBatch(request, { ...(model ? { model } : {}), ...(score === undefined ? {} : { minScore: score }) }, (loaded, total) =>
          setSent({ bytes: before + Math.min(requestBytes, (loaded / Math.max(total, 1)) * requestBytes), total: totalBytes }),
        );
        before += requestBytes;
        ids.push(batch.id);
        setSent({ bytes: before, total: totalBytes });
      }
      setFiles([]);
      setNotImages([]);
      setDone(ids);
      if (ids.length === 1) navigate(`/batches/${ids[0]}`);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      if (ids.length > 0) setDone(ids);
    } finally {
      setSent(null);
    }
  };

  const scoreInvalid = minScore.trim() !== '' && !(Number(minScore) >= 0 && Number(minScore) <= 1);
  return (
    <Page title="Upload images">
      <div
        className={`dropzone${over ? ' over' : ''}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        onClick={() => input.current?.click()}
      >
        <p>Drop images here, or click to choose.</p>
        <p className="hint">
          JPEG, PNG, WebP, GIF, TIFF{info ? ` · up to ${formatBytes(info.limits.maxFileBytes)} each · ${info.limits.maxFiles} per batch (more are split)` : ''}
        </p>
        <input
          ref={input}
          type="file"
          multiple
          accept={IMAGE_TYPES}
          data-testid="file-input"
          onChange={(e) => {
            void add(e.target.files);
            e.target.value = '';
          }}
          hidden
        />
      </div>

      <div className="form-row">
        <label>
          Model{' '}
          <select value={model} onChange={(e) => setModel(e.target.value)} data-testid="model">
            <option value="">default{info ? ` (${info.defaultModel})` : ''}</option>
            {info?.models.map((m) => (
              <option key={m.name} value={m.name} disabled={!m.present}>
                {m.name}
                {m.present ? '' : ' (not fetched)'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Min score{' '}
          <input type="number" min={0} max={1} step={0.05} value={minScore} onChange={(e) => setMinScore(e.target.value)} placeholder="model's default" />
        </label>
        {scoreInvalid && <span className="error">a number from 0 to 1</span>}
      </div>

      {files.length > 0 && (
        <div className="file-list">
          <p>
            {plural(files.length, 'file')} · {formatBytes(files.reduce((n, f) => n + f.size, 0))}
            {plan && plan.requests.length > 1 ? ` · ${plan.requests.length} batches` : ''}{' '}
            <button
              type="button"
              className="link"
              onClick={() => {
                setFiles([]);
                setNotImages([]);
              }}
              disabled={sent !== null}
            >
              clear
            </button>
          </p>
          {plan?.refused.map(({ file, reason }) => (
            <p key={file.name} className="error">
              {file.name}: {reason} (skipped)
            </p>
          ))}
          <button
            type="button"
            onClick={() => void upload()}
            disabled={sent !== null || scoreInvalid || !plan || plan.requests.length === 0}
            data-testid="upload"
          >
            Upload {plural(plan ? plan.requests.flat().length : 0, 'image')}
          </button>
        </div>
      )}
      {notImages.length > 0 && (
        <p className="error" data-testid="not-images">
          Skipped, not images (JPEG, PNG, WebP, GIF or TIFF by their first bytes): {notImages.join(', ')}
        </p>
      )}
      {sent && <ProgressBar value={sent.bytes} max={sent.total} label={`${formatBytes(sent.bytes)} / ${formatBytes(sent.total)}`} testId="upload-progress" />}
      <ErrorNote error={error} />
      {done.length > 1 && (
        <p>
          Submitted {done.length} batches:{' '}
          {done.map((id) => (
            <a key={id} href={`#/batches/${id}`}>
              <code>{id.slice(0, 8)}</code>{' '}
            </a>
          ))}
        </p>
      )}
    </Page>
  );
}
