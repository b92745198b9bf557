import { run } from './main.ts';
import { cancellation } from './process.ts';

await run();
// A cancelled run has reported; a wait it abandoned must not keep the process alive.
if (cancellation()) process.exit();
