// Turns encoded image bytes into the model's input tensor with sharp: EXIF
// orientation, letterbox (aspect kept, padding recorded so boxes map back to
// original pixels), grey and alpha handled, then RGB bytes to Float32.
// sharp decodes and resizes on libuv's thread pool, off the event loop.

import sharp from 'sharp';
import { DetectionError } from './errors.js';
import { describeUnknownBytes, sniffImageFormat, type ImageFormat } from './image-format.js';
import type { InputSpec } from './model-spec.js';

export interface ImageLimits {
  /** Largest accepted encoded size in bytes. */
  maxBytes: number;
  /** Largest accepted width x height (sharp's limitInputPixels). */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 50 * 1024 * 1024, maxPixels: 50_000_000 };

/** How the original (oriented) image sits inside the model input. */
export interface Letterbox {
  /** Original width and height after EXIF orientation. */
  width: number;
  height: number;
  /** Model-input pixels per original pixel, per axis. */
  scaleX: number;
  scaleY: number;
  padLeft: number;
  padTop: number;
}

export interface PreprocessedImage {
  format: ImageFormat;
  /** Milliseconds spent on the format check and header decode (before any pixel). */
  headerMs: number;
  letterbox: Letterbox;
  /** One item of the model input (no batch dimension), laid out per spec. */
  tensor: Float32Array;
}

// EXIF orientations 5..8 rotate by 90 degrees: width and height swap.
const swapsAxes = (orientation: number | undefined): boolean => orientation !== undefined && orientation >= 5;

function classifySharpError(err: unknown): DetectionError {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new DetectionError('too_many_pixels', message, { cause: err });
  return new DetectionError('corrupt_image', `image data is corrupt or truncated: ${message}`, { cause: err });
}

export function computeLetterbox(width: number, height: number, input: InputSpec): Letterbox {
  const scale = Math.min(input.width / width, input.height / height);
  const resizedWidth = Math.max(1, Math.min(input.width, Math.round(width * scale)));
  const resizedHeight = Math.max(1, Math.min(input.height, Math.round(height * scale)));
  return {
    width,
    height,
    scaleX: resizedWidth / width,
    scaleY: resizedHeight / height,
    padLeft: Math.floor((input.width - resizedWidth) / 2),
    padTop: Math.floor((input.height - resizedHeight) / 2),
  };
}

/** Maps a point from model-input pixels back to original image pixels. */
export function toOriginal(letterbox: Letterbox, x: number, y: number): [number, number] {
  return [(x - letterbox.padLeft) / letterbox.scaleX, (y - letterbox.padTop) / letterbox.scaleY];
}

export function rgbToTensor(rgb: Uint8Array, input: InputSpec): Float32Array {
  const pixels = input.width * input.height;
  const out = new Float32Array(pixels * 3);
  const { scale, offset } = input;
  if (input.layout === 'NHWC') {
    for (let i = 0; i < out.length; i++) out[i] = (rgb[i] as number) * scale + offset;
  } else {
    for (let p = 0, i = 0; p < pixels; p++, i += 3) {
      out[p] = (rgb[i] as number) * scale + offset;
      out[pixels + p] = (rgb[i + 1] as number) * scale + offset;
      out[2 * pixels + p] = (rgb[i + 2] as number) * scale + offset;
    }
  }
  return out;
}

/** Checks the bytes and returns the accepted format, or throws the typed error. */
export function checkImageBytes(bytes: Uint8Array, limits: ImageLimits): ImageFormat {
  if (bytes.length === 0) throw new DetectionError('empty_input', 'the file is empty (0 bytes)');
  if (bytes.length > limits.maxBytes) {
    throw new DetectionError('too_large', `image is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes`);
  }
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new DetectionError('unsupported_format', `not a supported image: looks like ${describeUnknownBytes(bytes)}; accepted: JPEG, PNG, WebP, GIF, TIFF`);
  }
  return format;
}

export async function preprocessImage(bytes: Buffer, input: InputSpec, limits: ImageLimits): Promise<PreprocessedImage> {
  const started = performance.now();
  const format = checkImageBytes(bytes, limits);
  // failOn 'error': a truncated file is an error, not a half-grey picture.
  // pages 1: only the first frame of an animated GIF/WebP/TIFF.
  const options = { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 } as const;

  let width: number;
  let height: number;
  try {
    // Header only: the pixel check below gives the clearer message.
    const meta = await sharp(bytes, { ...options, limitInputPixels: false }).metadata();
    if (!meta.width || !meta.height) throw new Error('no image dimensions in header');
    if (meta.width * meta.height > limits.maxPixels) {
      throw new DetectionError(
        'too_many_pixels',
        `image is ${meta.width}x${meta.height} (${meta.width * meta.height} pixels); the limit is ${limits.maxPixels} pixels`,
      );
    }
    [width, height] = swapsAxes(meta.orientation) ? [meta.height, meta.width] : [meta.width, meta.height];
  } catch (err) {
    throw err instanceof DetectionError ? err : classifySharpError(err);
  }

  const headerMs = performance.now() - started;
  const letterbox = computeLetterbox(width, height, input);
  const resizedWidth = Math.round(width * letterbox.scaleX);
  const resizedHeight = Math.round(height * letterbox.scaleY);
  const pad = { r: input.padValue, g: input.padValue, b: input.padValue };
  let rgb: Buffer;
  try {
    const { data, info } = await sharp(bytes, options)
      .rotate() // EXIF auto-orient
      .flatten({ background: pad }) // alpha over the pad colour, not over undefined RGB
      .resize(resizedWidth, resizedHeight, { fit: 'fill' })
      .extend({
        top: letterbox.padTop,
        bottom: input.height - resizedHeight - letterbox.padTop,
        left: letterbox.padLeft,
        right: input.width - resizedWidth - letterbox.padLeft,
        background: pad,
      })
      .toColourspace('srgb') // grey becomes three equal channels
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== input.width || info.height !== input.height) {
      throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
    }
    rgb = data;
  } catch (err) {
    throw classifySharpError(err);
  }
  return { format, headerMs, letterbox, tensor: rgbToTensor(rgb, input) };
}
