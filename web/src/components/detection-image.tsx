// An image with its detections drawn by the browser: the uploaded original
// (the large view) or a scaled preview (thumbnails, and formats the browser
// cannot show, such as TIFF), fetched with the key, under an SVG whose
// viewBox is the full image's pixel size, so boxes in image pixels land where
// they belong at any display size. Browsers show the original EXIF-oriented,
// the frame the detections are in.
import { useEffect, useRef, useState, type RefObject } from 'react';
import type { Client, Detection } from '../api.js';

const COLORS = ['#ff3b30', '#34c759', '#0a84ff', '#ff9f0a', '#bf5af2', '#64d2ff', '#ffd60a'];

function colorFor(label: string): string {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length]!;
}

export function useObjectUrl(client: Client, path: string | null): { url?: string; error?: string } {
  const [state, setState] = useState<{ url?: string; error?: string }>({});
  useEffect(() => {
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
  /** Show the uploaded bytes themselves; the preview if the browser cannot decode them. */
  original?: boolean;
}) {
  const [useOriginal, setUseOriginal] = useState(original);
  const box = useRef<HTMLDivElement>(null);
  const seen = useSeen(box, !lazy);
  const source = useOriginal ? `/v1/images/${imageId}/original` : `/v1/images/${imageId}/preview.jpg?size=${size}`;
  const { url, error } = useObjectUrl(client, seen ? source : null);
  // Stroke and text in image pixels, so they look the same at any image size.
  const unit = Math.max(width, height) / 400;
  return (
    <div ref={box} className="detection-image" style={{ aspectRatio: `${width} / ${height}`, ...(maxHeight ? { maxWidth: `calc(${maxHeight} * ${width / height})` } : {}) }}>
      {url ? (
        <img src={url} alt={alt} data-source={useOriginal ? 'original' : 'preview'} onError={useOriginal ? () => setUseOriginal(false) : undefined} />
      ) : (
        <div className="image-placeholder">{error ?? 'loading…'}</div>
      )}
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-label={`${detections.length} detections`} data-testid="boxes">
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
