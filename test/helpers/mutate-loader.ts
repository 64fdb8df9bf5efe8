// A webpack loader for the replay test: it edits the compiled workflow the way a careless change
// would, so the test can show that recorded histories catch a change made without patched().
interface LoaderContext {
  getOptions(): { find: string; replace: string };
}

function mutate(this: LoaderContext, source: string): string {
  const { find, replace } = this.getOptions();
  if (!source.includes(find)) throw new Error(`the mutation's anchor is not in the workflow any more: ${find}`);
  return source.replace(find, replace);
}

export = mutate;
