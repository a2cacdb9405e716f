import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API of a running `npm start` (port 8080)
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: {
    proxy: Object.fromEntries(
      ['/v3', '/openapi.json', '/healthz', '/readyz'].map((p) => [p, 'http://localhost:8080']),
    ),
  },
});
