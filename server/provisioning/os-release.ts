import { CorralError, ErrorCode } from '../app/errors';

export interface DetectedOs {
  id: string;
  versionId: string;
  /** PRETTY_NAME, or id and version when the file has none. */
  name: string;
}

/** The fields of an /etc/os-release file (shell-style KEY=value lines, values optionally quoted). */
export function parseOsRelease(text: string): DetectedOs {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2]!.trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    fields.set(m[1]!, value.replace(/\\(["'$`\\])/g, '$1'));
  }
  const id = (fields.get('ID') ?? '').toLowerCase();
  const versionId = fields.get('VERSION_ID') ?? '';
  return { id, versionId, name: fields.get('PRETTY_NAME') || `${id || 'unknown'} ${versionId}`.trim() };
}

/**
 * Debian 12 and Ubuntu 20.04 or later: what the node playbook is written for. Anything else
 * (another distribution, an older or newer Debian, Ubuntu before 20.04) is refused with
 * UNSUPPORTED_OS naming what was found.
 */
export function checkSupportedOs(osRelease: string): DetectedOs {
  const os = parseOsRelease(osRelease);
  const [major = NaN, minor = 0] = os.versionId.split('.').map(Number);
  const supported = (os.id === 'debian' && major === 12) || (os.id === 'ubuntu' && (major > 20 || (major === 20 && minor >= 4)));
  if (!supported) {
    throw new CorralError(ErrorCode.UNSUPPORTED_OS, `the node runs ${os.name} (ID=${os.id || '?'}, VERSION_ID=${os.versionId || '?'}); Corral sets up Debian 12 and Ubuntu 20.04 or later`, { os: os.name });
  }
  return os;
}
