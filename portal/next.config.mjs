import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The portal lives in portal/ but its node_modules (and package-lock.json) are in the repo root.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // Both must be the same absolute path: Turbopack resolves modules only inside its root.
  turbopack: { root: repoRoot },
  outputFileTracingRoot: repoRoot,
};

export default nextConfig;
