// An image with its detections drawn by the browser: the uploaded original
// (the large view) or a scaled preview (thumbnails, and where the original
// cannot be shown in the detections' frame), fetched with the key, under an
// SVG whose viewBox is the full image's pixel size, so boxes in image pixels
// land where they belong at any display size. The boxes are in the
// EXIF-oriented frame; previews are always in it, but browsers do not orient
// every format (Chromium leaves WebP as stored) and cannot decode some (TIFF):
// the original is shown only once it is known to be in that frame
// (image-frame.ts), and the preview otherwise.
import { useEffect, useRef, useState, type RefObject } from 'react';
import type { Client, Detection } from '../api.js';
import { GRID, inSameFrame } from '../image-frame.js';

const COLORS = ['#ff3b30', '#34c759', '#0a84ff', '#ff9f0a', '#bf5af2', '#64d2ff', '#ffd60a'];

function colorFor(label: string): string {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length]!;
}

/** The blob: URL of an image route fetched with the key, or why it failed; revoked when the path changes. */
export function useObjectUrl(client: Client, path: string | null): { url?: string; error?: string } {
  const [state, setState] = useState<{ url?: string; error?: string }>({});
  useEffect(() => {
    // Nothing from the previous path is shown while the next one loads.
    setState({});
    if (!path) return;
    let url: string | undefined;
    let cancelled = false;
    client.objectUrl(path).then(
      (u) => {
        if (cancelled) URL.revokeObjectURL(u);
        else setState({ url: (url = u) });
      },
      (err: Error) => !cancelled && setState({ error: err.message }),
    );
    return () => {
      cancelled = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, path]);
  return state;
}

/** True once the element has come near the viewport (a grid of thousands fetches what is seen). */
function useSeen(ref: RefObject<HTMLElement | null>, eager: boolean): boolean {
  const [seen, setSeen] = useState(eager);
  useEffect(() => {
    if (seen || !ref.current) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        setSeen(true);
        observer.disconnect();
      }
    }, { rootMargin: '400px' });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [ref, seen]);
  return seen;
}

/** The preview size of the batch grid's thumbnails (the frame check asks for the same, often cached, preview). */
export const THUMBNAIL_SIZE = 320;

/** A decoded image squeezed into an n x n grey grid (0..255), row by row, as the browser shows it. */
function gridOf(image: HTMLImageElement, n = GRID): Uint8ClampedArray {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = n;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2d canvas');
  // On white, as the preview is flattened: transparency compares equal.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, n, n);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image, 0, 0, n, n);
  const rgba = ctx.getImageData(0, 0, n, n).data;
  const grey = new Uint8ClampedArray(n * n);
  for (let i = 0; i < n * n; i++) grey[i] = 0.299 * rgba[i * 4]! + 0.587 * rgba[i * 4 + 1]! + 0.114 * rgba[i * 4 + 2]!;
  return grey;
}

/** Decodes a blob: URL into an image element (rejects if the browser cannot). */
async function decoded(url: string): Promise<HTMLImageElement> {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img;
}

/**
 * True when the loaded original, as this browser shows it, is in the frame of
 * the image's width x height and its detections (the server's preview).
 * Throws if the preview cannot be fetched.
 */
async function originalInFrame(client: Client, imageId: string, img: HTMLImageElement, width: number, height: number): Promise<boolean> {
  if (img.naturalWidth !== width || img.naturalHeight !== height) return false;
  const url = await client.objectUrl(`/v1/images/${imageId}/preview.jpg?size=${THUMBNAIL_SIZE}`);
  try {
    return inSameFrame(gridOf(img), gridOf(await decoded(url)), GRID);
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function DetectionImage({
  client,
  imageId,
  width,
  height,
  detections,
  size,
  showLabels,
  alt,
  maxHeight,
  lazy = false,
  original = false,
}: {
  client: Client;
  imageId: string;
  /** The image's EXIF-oriented size in pixels: the frame of the detections' boxes. */
  width: number;
  height: number;
  detections: Detection[];
  size: number;
  showLabels: boolean;
  alt: string;
  /** CSS length the picture may not exceed in height (the large view: most of the window). */
  maxHeight?: string;
  /** Fetch the preview only when it scrolls near the viewport. */
  lazy?: boolean;
  /** Show the uploaded bytes themselves; the preview if the browser cannot show them in the boxes' frame. */
  original?: boolean;
}) {
  const [useOriginal, setUseOriginal] = useState(original);
  // The original stays hidden until it is known to be in the boxes' frame.
  const [checked, setChecked] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const seen = useSeen(box, !lazy);
  const source = useOriginal ? `/v1/images/${imageId}/original` : `/v1/images/${imageId}/preview.jpg?size=${size}`;
  const { url, error } = useObjectUrl(client, seen ? source : null);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  // The original could not be fetched at all: the preview may still be.
  useEffect(() => {
    if (useOriginal && error) setUseOriginal(false);
  }, [useOriginal, error]);
  const onLoad = (img: HTMLImageElement) => {
    if (!useOriginal) return;
    originalInFrame(client, imageId, img, width, height).then(
      (ok) => mounted.current && (ok ? setChecked(true) : setUseOriginal(false)),
      () => mounted.current && setUseOriginal(false),
    );
  };
  const shown = !useOriginal || checked;
  // Stroke and text in image pixels, so they look the same at any image size.
  const unit = Math.max(width, height) / 400;
  return (
    <div ref={box} className="detection-image" style={{ aspectRatio: `${width} / ${height}`, ...(maxHeight ? { maxWidth: `calc(${maxHeight} * ${width / height})` } : {}) }}>
      {url ? (
        <img
          key={url}
          src={url}
          alt={alt}
          data-source={useOriginal ? 'original' : 'preview'}
          data-shown={shown}
          style={shown ? undefined : { visibility: 'hidden' }}
          onLoad={(e) => onLoad(e.currentTarget)}
          onError={useOriginal ? () => setUseOriginal(false) : undefined}
        />
      ) : (
        <div className="image-placeholder">{!useOriginal && error ? error : 'loading…'}</div>
      )}
      <svg style={shown ? undefined : { visibility: 'hidden' }} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-label={`${detections.length} detections`} data-testid="boxes">
        {detections.map((d, i) => {
          const color = colorFor(d.label);
          const w = d.box.x2 - d.box.x1;
          const h = d.box.y2 - d.box.y1;
          const text = `${d.label} ${(d.score * 100).toFixed(0)}%`;
          const fontSize = unit * 9;
          return (
            <g key={i} data-testid="box" data-label={d.label} data-score={d.score}>
              <rect x={d.box.x1} y={d.box.y1} width={w} height={h} fill="none" stroke={color} strokeWidth={unit * 1.5} />
              {showLabels && (
                <>
                  <rect x={d.box.x1} y={Math.max(0, d.box.y1 - fontSize * 1.3)} width={text.length * fontSize * 0.62} height={fontSize * 1.3} fill={color} />
                  <text x={d.box.x1 + fontSize * 0.2} y={Math.max(0, d.box.y1 - fontSize * 1.3) + fontSize} fontSize={fontSize} fill="#000" fontFamily="system-ui, sans-serif">
                    {text}
                  </text>
                </>
              )}
              {showLabels && d.keypoints?.map(([x, y], k) => <circle key={k} cx={x} cy={y} r={unit * 1.5} fill={color} />)}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
