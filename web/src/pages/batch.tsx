// One batch: status and progress until it finishes, then a grid of its
// images with their boxes drawn and their counts; failed images say why.
// While it waits: its lane and how many images of other batches are ahead.
// The results download as CSV (any role); submitters re-run a finished batch
// with another model or threshold, operators delete a finished one.
import { useRef, useState, type FormEvent } from 'react';
import { atLeast, isFinished, type BatchResults, type BatchView, type Client, type DeletedBatch, type Info, type Me } from '../api.js';
import { formatBytes, plural } from '../../../src/text/format.js';
import { BatchProgress, ErrorNote, labelCounts, Page, saveDownload, StatusBadge, when } from '../components/common.js';
import { DetectionImage, THUMBNAIL_SIZE } from '../components/detection-image.js';
import { foundSummary } from '../found-summary.js';
import { navigate } from '../router.js';
import { usePoll } from '../use-poll.js';

export function BatchPage({ client, me, batchId }: { client: Client; me: Me; batchId: string }) {
  // The status is cheap and polled every second; the results (every image
  // with its detections) are fetched again only when an image has finished.
  const last = useRef<{ finishedImages: number; results: BatchResults } | null>(null);
  const { data, error } = usePoll(
    async () => {
      const batch = await client.get<BatchView>(`/v1/batches/${batchId}`);
      const finishedImages = batch.progress.done + batch.progress.failed;
      if (!last.current || last.current.finishedImages !== finishedImages || isFinished(batch.status)) {
        last.current = { finishedImages, results: await client.get<BatchResults>(`/v1/batches/${batchId}/results`) };
      }
      return { batch, results: last.current.results };
    },
    1000,
    { done: (d) => isFinished(d.batch.status) },
  );
  const [actionError, setActionError] = useState<Error>();
  const [deleted, setDeleted] = useState<DeletedBatch>();
  const batch = data?.batch;
  const images = data?.results.images ?? [];
  const model = images[0]?.model.name;
  const finished = batch !== undefined && isFinished(batch.status);

  const downloadCsv = async () => {
    setActionError(undefined);
    try {
      const { url, filename } = await client.download(`/v1/batches/${batchId}/results?format=csv`, `batch-${batchId}.csv`);
      saveDownload(url, filename);
    } catch (err) {
      setActionError(err instanceof Error ? err : new Error(String(err)));
    }
  };
  if (deleted) {
    const { blobs } = deleted;
    return (
      <Page
        title={
          <>
            Batch <code>{batchId.slice(0, 8)}</code> deleted
          </>
        }
        actions={<a href="#/batches">All batches</a>}
      >
        <p className="notice" data-testid="deleted" role="status">
          Deleted {plural(deleted.images, 'image')} and {plural(deleted.detections, 'detection')}; {plural(blobs.removed, 'stored file')} removed (
          {formatBytes(blobs.bytes)}){blobs.kept > 0 ? `, ${blobs.kept} kept (other batches use them)` : ''}
          {blobs.failed > 0 ? `, ${blobs.failed} the store refused to delete (a later prune sweeps them)` : ''}.
        </p>
        <p>
          <a href="#/batches">Back to all batches</a>
        </p>
      </Page>
    );
  }
  return (
    <Page
      title={
        <>
          Batch <code>{batchId.slice(0, 8)}</code> {batch && <StatusBadge status={batch.status} />}
        </>
      }
      actions={
        <>
          <button type="button" data-testid="download-csv" onClick={() => void downloadCsv()} disabled={!batch}>
            Download CSV
          </button>
          <a href="#/batches">All batches</a>
        </>
      }
    >
      <ErrorNote error={error ?? actionError} />
      {batch && (
        <div className="summary" data-testid="batch-summary">
          <BatchProgress progress={batch.progress} />
          <p>
            <span data-testid="found">
              {batch.progress.total} {batch.progress.total === 1 ? 'image' : 'images'} · {foundSummary(images)}
            </span>{' '}
            · {batch.progress.failed} failed{model ? ` · model ${model}` : ''} · submitted {when(batch.createdAt)}
            {batch.finishedAt ? ` · finished ${when(batch.finishedAt)}` : ''}
          </p>
          {!isFinished(batch.status) && (
            <p data-testid="batch-schedule">
              lane: {batch.lane}
              {batch.position === null ? '' : ` · ${batch.position} ${batch.position === 1 ? 'image' : 'images'} ahead`}
            </p>
          )}
        </div>
      )}
      {finished && atLeast(me.role, 'submitter') && (
        <div className="batch-actions">
          <RerunForm client={client} batchId={batchId} model={model} />
          {atLeast(me.role, 'operator') && <DeleteBatch client={client} batchId={batchId} images={batch.progress.total} onDeleted={setDeleted} />}
        </div>
      )}
      <ul className="grid" data-testid="image-grid">
        {images.map((img) => (
          <li key={img.id} className={`card card-${img.status}`} data-filename={img.filename} data-status={img.status}>
            <a href={`#/batches/${batchId}/images/${img.id}`} title={img.filename}>
              {img.status === 'done' && img.width && img.height ? (
                <DetectionImage
                  client={client}
                  imageId={img.id}
                  width={img.width}
                  height={img.height}
                  detections={img.detections}
                  size={THUMBNAIL_SIZE}
                  showLabels={false}
                  alt={img.filename}
                  lazy
                />
              ) : (
                <div className="image-placeholder">{img.status === 'failed' ? '✕' : img.status + '…'}</div>
              )}
            </a>
            <div className="card-text">
              <a className="filename" href={`#/batches/${batchId}/images/${img.id}`} title={img.filename}>
                {img.filename}
              </a>
              {img.status === 'done' && (
                <span className="count" data-testid="count">
                  {img.detections.length === 0 ? 'nothing found' : labelCounts(img.detections.map((d) => d.label))}
                </span>
              )}
              {img.error && (
                <span className="error">
                  {img.error.code}: {img.error.message}
                </span>
              )}
            </div>
          </li>
        ))}
      </ul>
    </Page>
  );
}

/** Runs the batch's images again, by their stored bytes, with a model and a threshold chosen here; opens the new batch. */
function RerunForm({ client, batchId, model }: { client: Client; batchId: string; model: string | undefined }) {
  const { data: info } = usePoll(() => client.get<Info>('/v1/info'), 60_000);
  const [chosen, setChosen] = useState<string>();
  const [minScore, setMinScore] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const selected = chosen ?? model ?? info?.defaultModel ?? '';
  const spec = info?.models.find((m) => m.name === selected);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body: { model: string; minScore?: number } = { model: selected };
      if (minScore.trim() !== '') body.minScore = Number(minScore);
      const { id } = await client.post<{ id: string }>(`/v1/batches/${batchId}/rerun`, body);
      navigate(`/batches/${id}`);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };
  return (
    <form className="panel" data-testid="rerun" onSubmit={(e) => void submit(e)}>
      <h2>Re-run</h2>
      <p className="hint">
        A new batch over these images, nothing uploaded again. Min score left blank: this batch&apos;s with its own model, the model&apos;s default with
        another. An image already answered with the same model and score comes from the cache.
      </p>
      <div className="form-row">
        <label className="inline">
          Model
          <select name="model" value={selected} onChange={(e) => setChosen(e.target.value)}>
            {info?.models.map((m) => (
              <option key={m.name} value={m.name} disabled={!m.present}>
                {m.name}
                {m.name === model ? ' (this batch)' : ''}
                {m.present ? '' : ' (not fetched)'}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Min score
          <input
            name="minScore"
            type="number"
            min={0}
            max={1}
            step={0.05}
            className="score-input"
            placeholder={selected === model ? "this batch's" : spec ? `default ${spec.defaultMinScore}` : 'default'}
            value={minScore}
            onChange={(e) => setMinScore(e.target.value)}
          />
        </label>
        <button type="submit" disabled={busy || !selected}>
          {busy ? 'Starting…' : 'Re-run'}
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}

/** Deletes the batch, its results and its stored images (unless another batch uses them), after a confirmation. */
function DeleteBatch({ client, batchId, images, onDeleted }: { client: Client; batchId: string; images: number; onDeleted: (what: DeletedBatch) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const remove = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onDeleted(await client.del<DeletedBatch>(`/v1/batches/${batchId}`));
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };
  return (
    <div className="panel danger" data-testid="delete">
      <h2>Delete</h2>
      {!confirming ? (
        <>
          <p className="hint">Removes this batch and its results for good.</p>
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            Delete batch…
          </button>
        </>
      ) : (
        <>
          <p>
            Delete this batch, its {images} {images === 1 ? 'image' : 'images'} and their detections, and the stored files no other batch uses? This cannot be
            undone (backups keep what they hold).
          </p>
          <div className="form-row">
            <button type="button" className="danger" data-testid="confirm-delete" disabled={busy} onClick={() => void remove()}>
              {busy ? 'Deleting…' : 'Delete for good'}
            </button>
            <button type="button" className="link" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </>
      )}
      <ErrorNote error={error} />
    </div>
  );
}
