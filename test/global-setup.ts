// Fails the run early, with the fix, when the test photos are missing.
import { missingPhotos } from './helpers/photos.js';

export default function setup(): void {
  const missing = missingPhotos();
  if (missing.length > 0) {
    throw new Error(`test photos missing (${missing.join(', ')}): run "npm run fixtures" first`);
  }
}
