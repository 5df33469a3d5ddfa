import type { Box } from '../../src/detection/index.js';
export { iou } from '../../src/detection/decoders/nms.js';

export const boxCentre = (b: Box): [number, number] => [(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2];
export const contains = (b: Box, [x, y]: [number, number]): boolean => x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2;
