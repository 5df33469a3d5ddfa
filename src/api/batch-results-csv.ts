// GET /v1/batches/:id/results?format=csv: the same results as the JSON
// answer, one record per detection; an image with no detection (done, or
// not finished yet) and a failed image get one record each, with empty
// detection columns (a failed one with its error). Columns in
// BATCH_RESULTS_CSV_COLUMNS' order: the ten issue 19 names (batch, image id,
// filename, model, label, score, x1, y1, x2, y2) first, then the error and the
// image's status (which tells an image with nothing found from one not yet
// finished); numbers as the JSON answer writes them.
import type { ImageWithDetections } from '../db/repositories/images.js';
import { toCsv, type CsvCell } from '../text/csv.js';

export const BATCH_RESULTS_CSV_COLUMNS = [
  'batch',
  'image_id',
  'filename',
  'model',
  'label',
  'score',
  'x1',
  'y1',
  'x2',
  'y2',
  'error_code',
  'error_message',
  'status',
] as const;

/** The CSV text of batch `batchId`'s results (`images` in the batch's order). */
export function batchResultsCsv(batchId: string, images: readonly ImageWithDetections[]): string {
  function* records(): Generator<CsvCell[]> {
    for (const img of images) {
      const image: CsvCell[] = [batchId, img.id, img.filename, img.model];
      const tail: CsvCell[] = [img.errorCode, img.errorMessage, img.status];
      if (img.detections.length === 0) yield [...image, null, null, null, null, null, null, ...tail];
      for (const d of img.detections) yield [...image, d.label, d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2, ...tail];
    }
  }
  return toCsv(BATCH_RESULTS_CSV_COLUMNS, records());
}

/** The file name a download of batch `batchId`'s results is saved under (ASCII: a uuid). */
export const batchResultsFilename = (batchId: string): string => `lookout-batch-${batchId}-results.csv`;
