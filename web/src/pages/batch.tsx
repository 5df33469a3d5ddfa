// One batch: status and progress until it finishes, then a grid of its
// images with their boxes drawn and their counts; failed images say why.
// While it waits: its lane and how many images of other batches are ahead.
import { isFinished, type BatchResults, type BatchView, type Client } from '../api.js';
import { BatchProgress, ErrorNote, labelCounts, Page, StatusBadge, when } from '../components/common.js';
import { DetectionImage, THUMBNAIL_SIZE } from '../components/detection-image.js';
import { usePoll } from '../use-poll.js';
import { useRef } from 'react';

export function BatchPage({ client, batchId }: { client: Client; batchId: string }) {
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
  const batch = data?.batch;
  const images = data?.results.images ?? [];
  const found = images.reduce((n, img) => n + img.detections.length, 0);
  return (
    <Page
      title={
        <>
          Batch <code>{batchId.slice(0, 8)}</code> {batch && <StatusBadge status={batch.status} />}
        </>
      }
      actions={<a href="#/batches">All batches</a>}
    >
      <ErrorNote error={error} />
      {batch && (
        <div className="summary" data-testid="batch-summary">
          <BatchProgress progress={batch.progress} />
          <p>
            {batch.progress.total} images · {found} found · {batch.progress.failed} failed · submitted {when(batch.createdAt)}
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
              <strong className="filename">{img.filename}</strong>
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
