// Types of scripts/check-layers.mjs, for test/unit/layers.test.ts.
export interface ImportEdge {
  from: string;
  to: string;
}
export interface ImportGraph {
  files?: Record<string, number>;
  edges: ImportEdge[];
}
export interface LayerReport {
  upward: ImportEdge[];
  sideways: ImportEdge[];
  folderPairs: Array<[string, string]>;
  fileCycles: string[][];
  largest: { file: string; lines: number };
  violations: string[];
}
export const LAYERS: Readonly<Record<string, number>>;
export function folderOf(file: string): string;
export function readImports(srcDir: string): Required<ImportGraph>;
export function checkGraph(graph: ImportGraph, layers?: Readonly<Record<string, number>>): LayerReport;
export function checkLayers(srcDir: string): LayerReport;
