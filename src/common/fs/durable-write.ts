// A state file replaced so that a crash leaves the old or the new content, never a torn one, and
// the new one survives power loss once the promise resolves: write a temporary file, fsync it,
// rename it over the target, fsync the folder.
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileDurably(path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** The rename is durable once the directory entry is; not every platform can open a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // e.g. Windows (EISDIR/EPERM): the rename is still atomic, just not yet durable.
  } finally {
    await handle?.close();
  }
}
