// Worker entry: loads the TypeScript worker through tsx (workers do not inherit vitest's transform).
import { tsImport } from "tsx/esm/api";

await tsImport("./vpcd-card-worker.ts", import.meta.url);
