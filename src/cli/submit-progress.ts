// The progress bars of `lookout submit` on stderr: bytes uploaded, then
// images detected. Only on a terminal and never with --json (the caller
// decides); otherwise every method but log() does nothing, so no escape
// sequence ever reaches a pipe or a log file.

import { MultiBar, type SingleBar } from 'cli-progress';
import { formatBytes } from '../text/format.js';

export interface SubmitProgress {
  startUpload(totalBytes: number, totalFiles: number): void;
  /** Bytes handed to the current request (a retried request sends its bytes again: see restartRequest). */
  uploaded(bytes: number): void;
  fileSent(): void;
  /** A request is sent again (after 429): its bytes so far no longer count. */
  restartRequest(): void;
  /** A request was answered: its bytes and files count for good. */
  requestDone(): void;
  startDetect(totalImages: number): void;
  /** Images finished (done or failed) over all batches. */
  detected(finished: number): void;
  /** A line on stderr that does not tear the bars. */
  log(line: string): void;
  /** Draws the bars' last state and gives the terminal back (cursor, wrapping). Idempotent. */
  stop(): void;
}

export function createProgress(stream: NodeJS.WritableStream, enabled: boolean): SubmitProgress {
  const write = (line: string) => void stream.write(`${line}\n`);
  if (!enabled) {
    const nothing = () => undefined;
    return {
      startUpload: nothing,
      uploaded: nothing,
      fileSent: nothing,
      restartRequest: nothing,
      requestDone: nothing,
      startDetect: nothing,
      detected: nothing,
      log: write,
      stop: nothing,
    };
  }

  const bars = new MultiBar({
    stream,
    // "upload " and "detect " line up; 30 cells leave room for the detail in 80 columns.
    format: '{label} [{bar}] {percentage}% | {detail}',
    barsize: 30,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: true,
    clearOnComplete: false,
    autopadding: true,
  });
  let active = false;
  let upload: SingleBar | undefined;
  let detect: SingleBar | undefined;
  let totalBytes = 0;
  let totalFiles = 0;
  let bytesDone = 0; // answered requests
  let filesDone = 0;
  let bytesNow = 0; // the request in flight
  let filesNow = 0;

  const drawUpload = () => {
    const sent = bytesDone + bytesNow;
    upload?.update(sent, { detail: `${formatBytes(sent)} / ${formatBytes(totalBytes)} · ${filesDone + filesNow}/${totalFiles} files` });
  };

  return {
    startUpload(bytes, files) {
      totalBytes = bytes;
      totalFiles = files;
      active = true;
      upload = bars.create(Math.max(bytes, 1), 0, { label: 'upload', detail: '' });
      drawUpload();
    },
    uploaded(n) {
      bytesNow += n;
      drawUpload();
    },
    fileSent() {
      filesNow++;
      drawUpload();
    },
    restartRequest() {
      bytesNow = 0;
      filesNow = 0;
      drawUpload();
    },
    requestDone() {
      bytesDone += bytesNow;
      filesDone += filesNow;
      bytesNow = 0;
      filesNow = 0;
      drawUpload();
    },
    startDetect(total) {
      active = true;
      detect = bars.create(Math.max(total, 1), 0, { label: 'detect', detail: `0/${total} images` });
    },
    detected(finished) {
      detect?.update(finished, { detail: `${finished}/${detect.getTotal()} images` });
    },
    log(line) {
      if (active) bars.log(`${line}\n`);
      else write(line);
    },
    stop() {
      if (!active) return;
      active = false;
      bars.update(); // flushes lines logged since the last redraw
      bars.stop();
    },
  };
}
