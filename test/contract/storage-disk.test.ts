// The DiskTier contract run against the disk tier (src/edge/cache/disk/).
import { DiskStore } from '../../src/edge/cache/disk/disk-store.ts';
import { testDiskTier } from './disk-tier.ts';

testDiskTier('DiskStore', { create: (dir, maxBytes) => new DiskStore({ dir, maxBytes }) });
testDiskTier('DiskStore with fsync', {
  create: (dir, maxBytes) => new DiskStore({ dir, maxBytes, fsync: true }),
});
