export declare const CODE_SERVER_VERSION: string;

export interface InstalledCodeServer {
  /** Node 24 binary that runs code-server (and its extension host). */
  nodeBin: string;
  /** code-server's entry script. */
  entry: string;
  version: string;
  dir: string;
  /** Seconds the install took; 0 when an earlier install was reused. */
  installSeconds: number;
}

export declare function cacheRoot(): string;
export declare function envWithNode(nodeBin: string, extra?: Record<string, string>): Record<string, string | undefined>;
export declare function ensureCodeServer(options?: { log?: (message: string) => void }): InstalledCodeServer;
