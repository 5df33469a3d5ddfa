// An image with its detections drawn by the browser: the uploaded original
// (the large view) or a scaled preview (thumbnails, and where the original
// cannot be shown in the detections' frame), fetched with the key, under an
// SVG whose viewBox is the full image's pixel size, so boxes in image pixels
// land where they belong at any display size. The boxes are in the
// EXIF-oriented frame; previews are always in it (the server orients them),
// but browsers do not apply EXIF orientation to every format (Chromium leaves
// WebP as stored) and cannot decode some (TIFF). The original is shown only
// when the browser shows it at the image's own width x height and that size
// proves the frame: the bytes carry no orientation (X-Image-Orientation 1),
// or a quarter turn (5..8) of a picture that is not square, whose stored size
// is the oriented one swapped. A half turn or a mirror (2..4), or any turn of
// a square picture, looks the same size applied or not: the preview, which
// the server orients, at the original's size. Decided from the bytes and the
// decoded size, never from the format's name or the picture's content.
import { useEffect, useRef, useState, type RefObject } from 'react';
import type { Client, Detection } from '../api.js';

const COLORS = ['#ff3b30', '#34c759', '#0a84ff', '#ff9f0a', '#bf5af2', '#64d2ff', '#ffd60a'];

function colorFor(label: string): string {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length]!;
}

/** The blob: URL of an image route fetched with the key, or why it failed; revoked when the path changes. */
export function useObjectUrl(client: Client, path: string | null): { url?: string; orientation?: number; error?: string } {
  const [state, setState] = useState<{ url?: string; orientation?: number; error?: string }>({});
  useEffect(() => {
    // Nothing from the previous path is shown while the next one loads.
    setState({});
    if (!path) return;
    let url: string | undefined;
    let cancelled = false;
    client.image(path).then(
      (image) => {
        if (cancelled) URL.revokeObjectURL(image.url);
        else setState({ url: (url = image.url), orientation: image.orientation });
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
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setSeen(true);
          observer.disconnect();
        }
      },
      { rootMargin: '400px' },
    );
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [ref, seen]);
  return seen;
}

/** The preview size of the batch grid's thumbnails. */
export const THUMBNAIL_SIZE = 320;

/** The largest preview the server makes (preview.jpg's size limit). */
const MAX_PREVIEW_SIZE = 4096;

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
  // In place of an original, a preview as large as the original (up to the server's limit).
  const previewSize = original ? Math.min(MAX_PREVIEW_SIZE, Math.max(size, width, height)) : size;
  const source = useOriginal ? `/v1/images/${imageId}/original` : `/v1/images/${imageId}/preview.jpg?size=${previewSize}`;
  const { url, orientation, error } = useObjectUrl(client, seen ? source : null);
  // The original could not be fetched, or carries an orientation its size
  // cannot prove applied: the preview, which the server has oriented.
  const sizeProvesFrame = orientation === 1 || (orientation !== undefined && orientation >= 5 && width !== height);
  useEffect(() => {
    if (useOriginal && (error || (orientation !== undefined && !sizeProvesFrame))) setUseOriginal(false);
  }, [useOriginal, error, orientation, sizeProvesFrame]);
  const onLoad = (img: HTMLImageElement) => {
    if (!useOriginal || !sizeProvesFrame) return;
    // Shown at another size (an orientation not applied, a density the browser scales): not the boxes' frame.
    if (img.naturalWidth === width && img.naturalHeight === height) setChecked(true);
    else setUseOriginal(false);
  };
  const shown = !useOriginal || checked;
  // Stroke and text in image pixels, so they look the same at any image size.
  const unit = Math.max(width, height) / 400;
  return (
    <div
      ref={box}
      className="detection-image"
      style={{ aspectRatio: `${width} / ${height}`, ...(maxHeight ? { maxWidth: `calc(${maxHeight} * ${width / height})` } : {}) }}
    >
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
      <svg
        style={shown ? undefined : { visibility: 'hidden' }}
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        aria-label={`${detections.length} detections`}
        data-testid="boxes"
      >
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
                  <text
                    x={d.box.x1 + fontSize * 0.2}
                    y={Math.max(0, d.box.y1 - fontSize * 1.3) + fontSize}
                    fontSize={fontSize}
                    fill="#000"
                    fontFamily="system-ui, sans-serif"
                  >
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
