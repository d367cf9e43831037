// A client-node Watch whose objects go through a transform before the informer sees (and caches)
// them, as controller-runtime's cache transforms do: an informer over thousands of big objects
// keeps only the little it needs.
import { Watch, type KubeConfig } from "@kubernetes/client-node";

/** client-node's Watch, handing each object through `transform` before the informer caches it. */
export class TransformingWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly transform: (object: unknown) => unknown,
  ) {
    super(config);
  }

  override watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      query,
      (phase, object: unknown, watchObj: unknown) => {
        if (phase !== "ADDED" && phase !== "MODIFIED" && phase !== "DELETED") {
          callback(phase, object, watchObj);
          return;
        }
        const transformed = this.transform(object);
        if (transformed !== undefined) callback(phase, transformed, watchObj);
      },
      done,
    );
  }
}
