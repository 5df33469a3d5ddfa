// One image large, its boxes, labels and scores drawn over it by the browser,
// and the detections as a table.
import { useEffect } from 'react';
import { type BatchResults, type Client } from '../api.js';
import { navigate } from '../router.js';
import { ErrorNote, labelCounts, Page, saveDownload } from '../components/common.js';
import { DetectionImage } from '../components/detection-image.js';
import { usePoll } from '../use-poll.js';

export function ImagePage({ client, batchId, imageId }: { client: Client; batchId: string; imageId: string }) {
  const { data, error } = usePoll(() => client.get<BatchResults>(`/v1/batches/${batchId}/results`), 2000);
  const images = data?.images ?? [];
  const index = images.findIndex((i) => i.id === imageId);
  const image = images[index];
  const prev = images[index - 1];
  const next = images[index + 1];
  // ← and → step through the batch; Escape goes back to it.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
      if (e.key === 'ArrowLeft' && prev) navigate(`/batches/${batchId}/images/${prev.id}`);
      else if (e.key === 'ArrowRight' && next) navigate(`/batches/${batchId}/images/${next.id}`);
      else if (e.key === 'Escape') navigate(`/batches/${batchId}`);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [batchId, prev, next]);

  const download = async () => {
    const url = await client.objectUrl(`/v1/images/${imageId}/annotated.png`);
    saveDownload(url, `${image?.filename.replace(/\.[^.]*$/, '') ?? imageId}-annotated.png`);
  };
  return (
    <Page
      title={image?.filename ?? 'Image'}
      actions={
        <>
          {prev && <a href={`#/batches/${batchId}/images/${prev.id}`}>← {prev.filename}</a>}
          <a href={`#/batches/${batchId}`}>Batch</a>
          {next && <a href={`#/batches/${batchId}/images/${next.id}`}>{next.filename} →</a>}
        </>
      }
    >
      <ErrorNote error={error} />
      {image && image.status !== 'done' && (
        <p className={image.error ? 'error' : 'empty'}>{image.error ? `${image.error.code}: ${image.error.message}` : `This image is ${image.status}.`}</p>
      )}
      {image?.status === 'done' && image.width && image.height && (
        <div className="image-view" data-testid="image-view">
          <DetectionImage
            key={image.id}
            client={client}
            imageId={image.id}
            width={image.width}
            height={image.height}
            detections={image.detections}
            size={1600}
            showLabels
            alt={image.filename}
            maxHeight="82vh"
            original
          />
          <aside>
            <p>
              {image.width} × {image.height} px{image.detections.length === 0 ? '' : ` · ${labelCounts(image.detections.map((d) => d.label))}`}
            </p>
            {image.detections.length === 0 ? (
              <p className="empty" data-testid="no-detections">
                Nothing found in this image: {image.model.name} scored nothing at or above the batch&apos;s threshold.
              </p>
            ) : (
              <table className="table" data-testid="detections">
                <thead>
                  <tr>
                    <th>Label</th>
                    <th>Score</th>
                    <th>Box (x1, y1 – x2, y2)</th>
                  </tr>
                </thead>
                <tbody>
                  {image.detections.map((d, i) => (
                    <tr key={i}>
                      <td>{d.label}</td>
                      <td>{d.score.toFixed(3)}</td>
                      <td>
                        {Math.round(d.box.x1)}, {Math.round(d.box.y1)} – {Math.round(d.box.x2)}, {Math.round(d.box.y2)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <button type="button" onClick={() => void download()}>
              Download annotated PNG
            </button>
            <p className="hint">sha256 {image.sha256}</p>
          </aside>
        </div>
      )}
    </Page>
  );
}
