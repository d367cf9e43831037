// A list of every page of a collection, for informers whose cache keeps a view of each object
// rather than the object: each item goes through `view` as its page arrives, so no page outlives
// its turn. The first page's resourceVersion is the list's: the watch resumes from there.

/** One page of raw objects at a time (the API's `limit` and `continue`). */
export type PageLister = (
  cont: string | undefined,
) => Promise<{ metadata?: { resourceVersion?: string | undefined; continue?: string | undefined } | undefined; items: unknown[] }>;

export async function listPages<T>(listPage: PageLister, view: (raw: unknown) => T | undefined): Promise<{ resourceVersion?: string; items: T[] }> {
  const items: T[] = [];
  let resourceVersion: string | undefined;
  let cont: string | undefined;
  do {
    const page = await listPage(cont);
    resourceVersion ??= page.metadata?.resourceVersion;
    for (const item of page.items) {
      const v = view(item);
      if (v !== undefined) items.push(v);
    }
    cont = page.metadata?.continue === "" ? undefined : page.metadata?.continue;
  } while (cont !== undefined);
  return { ...(resourceVersion === undefined ? {} : { resourceVersion }), items };
}
