// Fails when portal/gql/ is not what `npm run codegen` would write from schema.graphql and the
// operations in the portal: regenerates in memory (into a temporary output path, nothing saved)
// with the config from codegen.ts and compares file by file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate, loadCodegenConfig } from '@graphql-codegen/cli';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const committedDir = 'portal/gql/';
process.chdir(root);

const { config } = await loadCodegenConfig({ configFilePath: path.join(root, 'codegen.ts') });
const output = config.generates?.[committedDir];
if (!output) {
  console.error(`codegen.ts has no "${committedDir}" output; this check compares that directory.`);
  process.exit(2);
}

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-codegen-check-'));
let files;
try {
  files = await generate({ ...config, cwd: root, silent: true, generates: { [`${tempDir}/`]: output } }, false);
} finally {
  fs.rmSync(tempDir, { recursive: true, force: true });
}

const problems = [];
const expected = new Set();
for (const file of files) {
  const relative = path.relative(tempDir, path.resolve(root, file.filename));
  const committed = path.join(committedDir, relative);
  expected.add(path.normalize(committed));
  if (!fs.existsSync(committed)) {
    problems.push(`${committed} is missing`);
  } else if (fs.readFileSync(committed, 'utf8') !== file.content) {
    problems.push(`${committed} is stale`);
  }
}
for (const entry of fs.readdirSync(committedDir, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const committed = path.normalize(path.join(entry.parentPath, entry.name));
  if (!expected.has(committed)) problems.push(`${committed} is not generated any more`);
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`codegen drift: ${problem}`);
  console.error('portal/gql does not match schema.graphql and the portal operations: run npm run codegen');
  process.exit(1);
}
console.log('portal/gql matches schema.graphql');
