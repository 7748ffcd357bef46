/** Builds the web console into ui/dist; the server serves it at /. `npm run build` runs it. */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/v2': 'http://127.0.0.1:8080' } },
});
