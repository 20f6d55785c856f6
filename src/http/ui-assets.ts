/**
 * The web UI's files (ui/ in the package): index.html and style.css as they are, and the browser code,
 * TypeScript compiled to ES modules. A node running from dist/ serves what `npm run build` compiled into
 * dist/ui; a node running from source (tsx: tests, development) compiles ui/*.ts in memory on the first
 * request, with the TypeScript compiler, so a clean checkout serves the UI without a build step.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file the UI is made of. */
export interface UiAsset {
  contentType: string;
  body: Buffer;
}

/** The UI's files by their path under /ui/ (for example `main.js`, `pages/overview.js`, `style.css`). */
export type UiAssets = ReadonlyMap<string, UiAsset>;

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UI_SOURCE_DIR = join(PACKAGE_ROOT, 'ui');
const UI_BUILD_DIR = join(PACKAGE_ROOT, 'dist', 'ui');
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Loads the UI's files: compiled ones from dist/ui when running from dist/, else compiled from ui/ now. */
export async function loadUiAssets(): Promise<UiAssets> {
  const assets = new Map<string, UiAsset>();
  const sourceFiles = await filesUnder(UI_SOURCE_DIR);
  for (const path of sourceFiles) {
    const type = CONTENT_TYPES[extname(path)];
    if (type !== undefined && extname(path) !== '.js') assets.set(path, { contentType: type, body: await readFile(join(UI_SOURCE_DIR, path)) });
  }
  const scripts = RUNNING_FROM_SOURCE ? undefined : await builtScripts();
  for (const [path, body] of scripts ?? (await compiledScripts(sourceFiles))) {
    assets.set(path, { contentType: CONTENT_TYPES['.js'] ?? 'text/javascript', body });
  }
  return assets;
}

/** The .js files `npm run build` put into dist/ui, or undefined when there are none. */
async function builtScripts(): Promise<Map<string, Buffer> | undefined> {
  const paths = (await filesUnder(UI_BUILD_DIR).catch(() => [])).filter((path) => path.endsWith('.js'));
  if (paths.length === 0) return undefined;
  const scripts = new Map<string, Buffer>();
  for (const path of paths) scripts.set(path, await readFile(join(UI_BUILD_DIR, path)));
  return scripts;
}

/** ui/*.ts transpiled one by one (types are checked by `npm run typecheck`, not here). */
async function compiledScripts(sourceFiles: string[]): Promise<Map<string, Buffer>> {
  let typescript: typeof import('typescript');
  try {
    typescript = (await import('typescript')).default;
  } catch {
    throw new Error('the web UI is not built and the TypeScript compiler is not installed: run `npm run build`');
  }
  const { ScriptTarget, ModuleKind } = typescript;
  const scripts = new Map<string, Buffer>();
  for (const path of sourceFiles.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))) {
    const source = await readFile(join(UI_SOURCE_DIR, path), 'utf8');
    const { outputText } = typescript.transpileModule(source, {
      fileName: path, compilerOptions: { target: ScriptTarget.ES2022, module: ModuleKind.ES2022, sourceMap: false },
    });
    scripts.set(path.replace(/\.ts$/, '.js'), Buffer.from(outputText));
  }
  return scripts;
}

/** Every file under `dir`, as paths relative to it with `/` separators. */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await filesUnder(dir, path)));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}
