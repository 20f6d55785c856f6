// Checks ARCHITECTURE.md's layer rules: which src/ folders (and which node builtins) each folder may import.
// Exits 1 listing every import that breaks a rule.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve('src');
/** For each folder: the src folders it may import (itself always allowed) and the builtins it must not. */
const RULES = {
  util: { allowed: [], forbiddenBuiltins: [] },
  codec: { allowed: ['util'], forbiddenBuiltins: ['net', 'tls', 'fs', 'fs/promises', 'http'] },
  broker: { allowed: ['util', 'codec', 'config'], forbiddenBuiltins: ['net', 'tls', 'fs', 'fs/promises', 'http'] },
  storage: { allowed: ['util', 'codec', 'broker', 'config'], forbiddenBuiltins: ['net', 'tls', 'http'] },
  server: { allowed: ['util', 'codec', 'broker', 'config'], forbiddenBuiltins: ['http'] },
  http: { allowed: ['util', 'broker', 'metrics', 'config', 'tasks'], forbiddenBuiltins: [] },
  metrics: { allowed: ['util', 'config'], forbiddenBuiltins: [] },
  tasks: { allowed: ['util', 'config'], forbiddenBuiltins: [] },
  config: { allowed: [], forbiddenBuiltins: [] },
  cli: { allowed: ['util', 'config', 'main', 'keeper-node', 'server', 'tasks'], forbiddenBuiltins: [] },
};

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const problems = [];
for (const file of walk(SRC)) {
  const folder = relative(SRC, file).split('/')[0];
  const rule = RULES[folder];
  if (rule === undefined) continue;
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    const specifier = match[1];
    if (specifier.startsWith('.')) {
      const target = relative(SRC, resolve(dirname(file), specifier)).split('/')[0].replace(/\.js$/, '');
      if (target !== folder && !rule.allowed.includes(target)) problems.push(`${relative('.', file)}: ${folder} may not import ${target} (${specifier})`);
    } else if (specifier.startsWith('node:') && rule.forbiddenBuiltins.includes(specifier.slice(5))) {
      problems.push(`${relative('.', file)}: ${folder} may not import ${specifier}`);
    }
  }
}
if (problems.length > 0) {
  console.error(`layer rule violations:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('layer rules hold');
