import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { Actor } from '../app/actor';
import { badInput, conflict, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { insertUnique } from '../common/db-errors';
import { isId, newId } from '../common/ids';
import { paginate, type Connection, type PageArgs } from '../common/pagination';
import { Container } from '../containers/container.entity';
import type { Logger } from '../app/logger';
import { Image } from './image.entity';

/** Unified LXD image tarballs in the repository directory are images; the file name (less the extension) is the image name. */
const TARBALL = /^([a-z][a-z0-9-]{0,61}[a-z0-9])\.tar\.(gz|xz)$/;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export class ImagesService {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly imageDir: string,
    private readonly log: Logger,
  ) {}

  async get(_actor: Actor, id: string): Promise<Image> {
    const image = isId(id) ? await this.db.manager.findOneBy(Image, { id }) : null;
    if (!image) throw notFound('Image');
    return image;
  }

  /** Images are a shared catalogue: every signed-in caller may list them and create from them. */
  list(_actor: Actor, page: PageArgs): Promise<Connection<Image>> {
    return paginate(this.db.getRepository(Image).createQueryBuilder('image'), page);
  }

  /** Registers every tarball in the repository directory that is not known yet. Runs at start. */
  async syncFromDirectory(): Promise<void> {
    await fs.mkdir(this.imageDir, { recursive: true });
    for (const file of (await fs.readdir(this.imageDir)).sort()) {
      const match = TARBALL.exec(file);
      if (!match) continue;
      const full = path.join(this.imageDir, file);
      if (await this.db.manager.existsBy(Image, { path: full })) continue;
      const fingerprint = await sha256File(full);
      const { size } = await fs.stat(full);
      try {
        await this.db.manager.insert(Image, { id: newId(), name: match[1]!, fingerprint, sizeBytes: size, path: full });
        this.log.info({ image: match[1], fingerprint }, 'registered image');
      } catch (error) {
        this.log.warn({ err: error, file }, 'image not registered (name or content already known)');
      }
    }
  }

  /** Stores an uploaded tarball in the repository and registers it. */
  async upload(actor: Actor, name: string, body: Readable): Promise<Image> {
    if (!/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/.test(name)) throw badInput('an image name is 2–63 lower-case letters, digits or hyphens', 'name');
    await fs.mkdir(this.imageDir, { recursive: true });
    const temporary = path.join(this.imageDir, `.upload-${newId()}`);
    const final = path.join(this.imageDir, `${name}.tar.gz`);
    try {
      await pipeline(body, createWriteStream(temporary));
      const fingerprint = await sha256File(temporary);
      const { size } = await fs.stat(temporary);
      return await this.audit.within({ actor, request: actor.request }, 'image.create', async (em, draft) => {
        const image = em.create(Image, { id: newId(), name, fingerprint, sizeBytes: size, path: final });
        await insertUnique(em, Image, image, 'name', 'an image with this name or content already exists');
        await fs.rename(temporary, final);
        draft.target('image', image.id);
        return image;
      });
    } finally {
      await fs.rm(temporary, { force: true });
    }
  }

  /** Removes an image from the repository; refused while containers use it. Node caches are left to LXD. */
  delete(actor: Actor, id: string): Promise<Image> {
    return this.audit.within({ actor, request: actor.request }, 'image.delete', async (em, draft) => {
      draft.target('image', id);
      const image = isId(id) ? await em.findOneBy(Image, { id }) : null;
      if (!image) throw notFound('Image');
      if (await em.existsBy(Container, { imageId: image.id })) throw conflict('containers still use this image');
      await em.delete(Image, { id: image.id });
      await fs.rm(image.path, { force: true });
      return image;
    });
  }
}
