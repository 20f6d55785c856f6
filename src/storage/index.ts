/**
 * The storage layer's public surface: the data directory, the definitions store and the message store,
 * and openStorage(), which opens all three in the right order for the composition root.
 */
import type { Logger } from '../util/logger.js';
import { DataDir } from './data-dir.js';
import { FileDefinitionStore } from './definition-store.js';
import { FileMessageStore, type MessageStoreOptions } from './message-store.js';
import type { StorageFs } from './storage-fs.js';

export { DataDir, DataDirLockedError, STORAGE_FORMAT_VERSION, type DataDirOptions } from './data-dir.js';
export { FileDefinitionStore, type DefinitionStoreOptions } from './definition-store.js';
export { FileMessageStore, type MessageStoreOptions, type MessageStoreStats } from './message-store.js';
export { SEGMENT_SIZE_DEFAULT_BYTES, StorageCorruptionError } from './segment-log.js';
export { nodeStorageFs, type StorageFs } from './storage-fs.js';
export { crc32c } from './crc32c.js';

/** Everything storage offers a running node. */
export interface Storage {
  dataDir: DataDir;
  definitions: FileDefinitionStore;
  messages: FileMessageStore;
  /** Flushes and closes the message store, then the definitions, then releases the lock. */
  close(): Promise<void>;
}

/** Options of openStorage. */
export interface StorageOptions extends MessageStoreOptions {
  fs?: StorageFs;
  logger?: Logger;
}

/** Opens and locks a data directory and the stores in it; throws DataDirLockedError when it is in use. */
export function openStorage(path: string, options: StorageOptions = {}): Storage {
  const common = { ...(options.fs === undefined ? {} : { fs: options.fs }), ...(options.logger === undefined ? {} : { logger: options.logger }) };
  const dataDir = DataDir.open(path, common);
  let definitions: FileDefinitionStore | undefined;
  try {
    definitions = new FileDefinitionStore(dataDir.path, common);
    const messages = new FileMessageStore(dataDir.path, options);
    const opened = definitions;
    return {
      dataDir,
      definitions,
      messages,
      async close(): Promise<void> {
        try {
          await messages.close();
        } finally {
          opened.close();
          dataDir.close();
        }
      },
    };
  } catch (error) {
    definitions?.close();
    dataDir.close();
    throw error;
  }
}
