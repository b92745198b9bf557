import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import{Cancelled,cancellation,interruptPrograms,runProgram,watchSignals}from"./chunk-6ETNM56Y.js";import"./chunk-V2BH5XYY.js";export{Cancelled,cancellation,interruptPrograms,runProgram,watchSignals};
//# sourceMappingURL=process-4Q4UIIP6.js.map
