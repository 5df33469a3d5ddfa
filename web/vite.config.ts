// The web console build: web/ → dist/web, served by the API at /.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    // One small app: no need to warn about its single chunk.
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // npm run dev:web against a local API (npm start).
    proxy: { '/v1': 'http://127.0.0.1:3000', '/openapi.json': 'http://127.0.0.1:3000', '/docs': 'http://127.0.0.1:3000' },
  },
});
