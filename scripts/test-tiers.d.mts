// Types of scripts/test-tiers.mjs (plain JS: run-tests.mjs runs it before tsx is loaded).
export declare const PROCESS_LEVEL: readonly RegExp[];
export declare function tierOfText(text: string): 'fast' | 'e2e';
export declare function tierOf(path: string): 'fast' | 'e2e';
export declare function testFiles(dirs: readonly string[], tier?: 'fast' | 'e2e' | null): string[];
