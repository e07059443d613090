// Types for scripts/checkImports.mjs (so the TypeScript unit test can import it).
export interface ImportRef { spec: string; typeOnly: boolean }
export interface Part { name: string; paths: string[] }
export interface PartRule { parts: string[]; typeOnly?: string[]; deniedPackages?: string[] }
export function importsOf(text: string): ImportRef[];
export function resolveSpec(fromFile: string, spec: string, files: Set<string>): string | undefined;
export function partOf(file: string, parts?: Part[]): string | undefined;
export function cyclesOf(graph: Map<string, Set<string>>): string[][];
export function checkSources(sources: Map<string, string>, table?: { parts?: Part[]; rules?: Record<string, PartRule> }): string[];
export function readSources(root: string, roots?: string[]): Map<string, string>;
