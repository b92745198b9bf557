// Stack traces should name src/ lines. Node applies source maps only to modules loaded after they
// are enabled, so the action is imported dynamically (its own chunk in dist/) once they are.
process.setSourceMapsEnabled(true);

const [{ run }, { cancellation }] = await Promise.all([
  import('./main.ts'),
  import('./process.ts'),
]);

await run();
// A cancelled run has reported; a wait it abandoned must not keep the process alive.
if (cancellation()) process.exit();
