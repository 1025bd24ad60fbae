import fs from 'node:fs';
import { generateLicenceKeyPair, issueLicence, publicKeyFrom, verifyLicence } from '../server/licences/licence-document';

/**
 * `npm run licence -- keygen <dir>`: writes licence-private.pem and licence-public.pem.
 * `npm run licence -- issue --key <private.pem> --licensee <name> --nodes N --containers M --expires YYYY-MM-DD`:
 *   prints a licence document for `installLicence`.
 * `npm run licence -- show <public.pem> <document>`: verifies a document and prints what it grants.
 * Corral verifies licences with CORRAL_LICENCE_PUBLIC_KEY (by default the vendor's key).
 */
function flag(args: string[], name: string): string {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? args[i + 1] : undefined;
  if (!value) throw new Error(`--${name} is required`);
  return value;
}

function main() {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'keygen') {
    const dir = args[0] ?? '.';
    const keys = generateLicenceKeyPair();
    fs.writeFileSync(`${dir}/licence-private.pem`, keys.privateKey, { mode: 0o600 });
    fs.writeFileSync(`${dir}/licence-public.pem`, keys.publicKey);
    console.log(`wrote ${dir}/licence-private.pem (keep it secret) and ${dir}/licence-public.pem (CORRAL_LICENCE_PUBLIC_KEY)`);
  } else if (command === 'issue') {
    const expires = new Date(flag(args, 'expires'));
    if (Number.isNaN(expires.getTime())) throw new Error('--expires must be a date, e.g. 2027-12-31');
    console.log(
      issueLicence(
        { licensee: flag(args, 'licensee'), maxNodes: Number(flag(args, 'nodes')), maxContainers: Number(flag(args, 'containers')), expiresAt: expires.toISOString() },
        fs.readFileSync(flag(args, 'key'), 'utf8'),
      ),
    );
  } else if (command === 'show') {
    const [publicKey, document] = args;
    if (!publicKey || !document) throw new Error('usage: show <public.pem> <document>');
    console.log(JSON.stringify(verifyLicence(document, publicKeyFrom(fs.readFileSync(publicKey, 'utf8'))), null, 2));
  } else {
    throw new Error('usage: licence keygen <dir> | issue --key <pem> --licensee <name> --nodes N --containers M --expires DATE | show <public.pem> <document>');
  }
}

try {
  main();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
