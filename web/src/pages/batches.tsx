// Batches, newest first, refreshed every 2 s: status and progress live, how
// many images and detections, and the name of the key that submitted each.
import { useState } from 'react';
import { atLeast, type BatchList, type Client, type Me } from '../api.js';
import { BatchProgress, ErrorNote, Page, StatusBadge, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';

const PAGE = 50;

export function BatchesPage({ client, me }: { client: Client; me: Me }) {
  const [mine, setMine] = useState(false);
  // Pages go back in time by createdAt; the first page is the live one.
  const [pages, setPages] = useState<string[]>([]);
  const before = pages[pages.length - 1];
  const path = `/v1/batches?limit=${PAGE}${mine ? '&mine=true' : ''}${before ? `&before=${encodeURIComponent(before)}` : ''}`;
  const { data, error } = usePoll(() => client.get<BatchList>(path), 2000, { key: path });
  const batches = data?.batches;
  const older = batches && batches.length === PAGE ? batches[batches.length - 1]!.createdAt : undefined;
  return (
    <Page
      title="Batches"
      actions={
        <>
          <label className="inline">
            <input
              type="checkbox"
              checked={mine}
              onChange={(e) => {
                setMine(e.target.checked);
                setPages([]);
              }}
            />{' '}
            only mine
          </label>
          {atLeast(me.role, 'submitter') && (
            <a className="button" href="#/upload">
              Upload images
            </a>
          )}
        </>
      }
    >
      <ErrorNote error={error} />
      {batches && batches.length === 0 && <p className="empty">No batches yet.</p>}
      {batches && batches.length > 0 && (
        <table className="table" data-testid="batches">
          <thead>
            <tr>
              <th>Submitted</th>
              <th>Batch</th>
              <th>Status</th>
              <th>Progress</th>
              <th className="num">Images</th>
              <th className="num">Detections</th>
              <th>Model</th>
              <th>By (key)</th>
            </tr>
          </thead>
          <tbody>
            {batches.map((b) => (
              <tr key={b.id} data-batch-id={b.id}>
                <td>{when(b.createdAt)}</td>
                <td>
                  <a href={`#/batches/${b.id}`}>
                    <code>{b.id.slice(0, 8)}</code>
                  </a>
                </td>
                <td>
                  <StatusBadge status={b.status} />
                </td>
                <td className="wide">
                  <BatchProgress progress={b.progress} />
                </td>
                <td className="num" data-testid="images">
                  {b.progress.total}
                </td>
                <td className="num" data-testid="detections">
                  {b.detections ?? '—'}
                </td>
                <td>{b.model}</td>
                <td title={`key id ${b.createdBy}`}>{b.createdByName ?? b.createdBy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        {pages.length > 0 && (
          <button type="button" className="link" onClick={() => setPages([])}>
            ← Newest
          </button>
        )}
        {older && (
          <button type="button" className="link" onClick={() => setPages((p) => [...p, older])}>
            Older →
          </button>
        )}
      </div>
    </Page>
  );
}
