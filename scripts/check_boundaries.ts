// Checks the import arrows of ARCHITECTURE.md: `gateway → engine → book`, `settlement → engine`,
// `book/` imports nothing outside itself, and a folder is entered only through its `index.ts`.
// It also keeps the deterministic core free of clocks, randomness and timers. Run as a script
// (`npm run check:boundaries`, part of `npm test`); exits 1 and names every violation.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which source folders each folder may import (besides itself). Packages and `node:` are separate. */
const ALLOWED_FOLDER_IMPORTS: Record<string, readonly string[]> = {
  book: [],
  engine: ['book'],
  gateway: ['engine'],
  settlement: ['engine'],
  bench: ['book', 'engine', 'gateway', 'settlement'],
  test: ['book', 'engine', 'gateway', 'settlement', 'bench', 'scripts'],
  scripts: ['book', 'engine', 'gateway', 'settlement'],
  bin: ['engine', 'gateway', 'settlement'],
};

/**
 * Folders that must stay pure and deterministic: no package, no Node built-in, no clock, no random
 * source, no timer, no `process`.
 */
const PURE_FOLDERS = new Set(['book']);
/**
 * engine/ is the state machine plus the shell that feeds and stores it. The shell's files are
 * listed here; every other engine file is the state machine (applyCommand and all it calls) and is
 * held to book/'s rules, so that nothing it does can differ between the live run and a replay.
 * (The replay-determinism test stubs the clock and random sources at run time, but only catches
 * the code paths its workload reaches; this catches them all.)
 */
const ENGINE_SHELL_FILES = new Set(['clock.ts', 'fault_points.ts', 'history.ts', 'index.ts', 'journal.ts', 'recovery.ts', 'sequencer.ts', 'snapshot.ts', 'wal_scan.ts']);
const NONDETERMINISTIC_CALLS = /\b(Date\.now|new Date\b|Math\.random|performance\.now|process\.\w+|setTimeout|setInterval|setImmediate|queueMicrotask|crypto\.randomUUID|crypto\.getRandomValues)/;

/** Whether `file` (in top-level `folder`) must be pure and deterministic. */
function mustBePure(folder: string, file: string): boolean {
  if (PURE_FOLDERS.has(folder)) return true;
  return folder === 'engine' && dirname(file).endsWith(`${sep}engine`) && !ENGINE_SHELL_FILES.has(basename(file));
}

/** Folders entered by other folders through their index.ts only (bench and test are free to reach in). */
const SURFACE_ONLY_FOR = new Set(['engine', 'gateway', 'settlement', 'bin']);

export interface BoundaryViolation {
  file: string;
  line: number;
  message: string;
}

/** Every violation in the tree under `rootDir`, in file order. */
export function findBoundaryViolations(rootDir: string): BoundaryViolation[] {
  const violations: BoundaryViolation[] = [];
  for (const folder of Object.keys(ALLOWED_FOLDER_IMPORTS)) {
    for (const file of listTypeScriptFiles(join(rootDir, folder))) {
      violations.push(...checkFile(rootDir, folder, file));
    }
  }
  return violations;
}

function checkFile(rootDir: string, folder: string, file: string): BoundaryViolation[] {
  const violations: BoundaryViolation[] = [];
  const shownFile = relative(rootDir, file);
  const pure = mustBePure(folder, file);
  const where = folder === 'engine' ? `engine/${basename(file)} (the state machine)` : `${folder}/`;
  const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
  lines.forEach((text, index) => {
    const line = index + 1;
    for (const specifier of importSpecifiers(text)) {
      const message = pure && !specifier.startsWith('.') ? `${where} may import no package or Node built-in, but imports '${specifier}'` : checkImport(rootDir, folder, file, specifier);
      if (message) violations.push({ file: shownFile, line, message });
    }
    if (pure) {
      const call = NONDETERMINISTIC_CALLS.exec(text);
      if (call) violations.push({ file: shownFile, line, message: `${where} must be deterministic but uses ${call[1]}` });
    }
  });
  return violations;
}

function checkImport(rootDir: string, folder: string, file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = relative(rootDir, resolve(dirname(file), specifier));
  const [targetFolder, ...rest] = target.split(sep);
  if (targetFolder === folder) return undefined;
  if (!ALLOWED_FOLDER_IMPORTS[folder].includes(targetFolder)) {
    return `${folder}/ may not import ${targetFolder}/ ('${specifier}')`;
  }
  const throughSurface = rest.length === 1 && /^index\.(js|ts)$/.test(rest[0]);
  if (SURFACE_ONLY_FOR.has(folder) && !throughSurface) {
    return `${folder}/ must import ${targetFolder}/ through ${targetFolder}/index.js, not '${specifier}'`;
  }
  return undefined;
}

/** Module specifiers of static imports/exports, dynamic imports and requires on one line. */
function importSpecifiers(text: string): string[] {
  const specifiers: string[] = [];
  const patterns = [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\s+['"]([^'"]+)['"]/g, /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) specifiers.push(match[1]);
  }
  return specifiers;
}

/** Blanks out comments (keeping line breaks, so line numbers stay right). */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function listTypeScriptFiles(directory: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries.sort()) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const path = join(directory, entry);
    if (statSync(path).isDirectory()) files.push(...listTypeScriptFiles(path));
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function main(): void {
  const rootDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const violations = findBoundaryViolations(rootDir);
  for (const { file, line, message } of violations) console.error(`${file}:${line}: ${message}`);
  if (violations.length > 0) {
    console.error(`${violations.length} import-boundary violation(s)`);
    process.exit(1);
  }
  console.log('import boundaries: ok');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
