import { labDown, labStatus, labUp } from './lab';
import { ensureDebianImage } from './debian';
import { interrupt } from './exec';

const USAGE = `usage: npm run lab -- <command>
  up [--nodes N] [--with-lxd]   make the lab (idempotent); prints the status
  down                          remove everything but the image cache
  status                        print the lab as JSON
  image debian                  build the Debian 12 image (slow; cached)`;

const started = Date.now();
function log(line: string): void {
  process.stderr.write(`[lab ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}

function parseUp(args: string[]): { nodes?: number; withLxd: boolean } {
  let nodes: number | undefined;
  let withLxd = false;
  for (let k = 0; k < args.length; k++) {
    const arg = args[k];
    if (arg === '--with-lxd') withLxd = true;
    else if (arg === '--nodes') nodes = Number(args[++k]);
    else if (arg.startsWith('--nodes=')) nodes = Number(arg.slice('--nodes='.length));
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { nodes, withLxd };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'up': {
      const status = await labUp({ ...parseUp(args), log });
      log('up');
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return;
    }
    case 'down':
      if (args.length) throw new Error(USAGE);
      await labDown({ log });
      log('down');
      return;
    case 'status':
      if (args.length) throw new Error(USAGE);
      process.stdout.write(`${JSON.stringify(await labStatus(), null, 2)}\n`);
      return;
    case 'image':
      if (args.length !== 1 || args[0] !== 'debian') throw new Error(USAGE);
      process.stdout.write(`${await ensureDebianImage({ log })}\n`);
      return;
    default:
      throw new Error(USAGE);
  }
}

// The first signal stops what runs and lets the cleanup run; a second one exits at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (process.exitCode === 130) process.exit(130);
    process.exitCode = 130;
    log(`${signal}: stopping`);
    interrupt();
  });
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode ||= 1;
});
