// What a Helm manifest renders, read as data: each object's kind and name, the workloads with
// their images, and the message queue that Milvus' own rendered config points at. Nothing else
// is kept: manifests hold credentials.
import { isMap, isScalar, parseAllDocuments, parseDocument } from 'yaml';

export interface Workload {
  kind: string;
  name: string;
  labels: Record<string, string>;
  /**
   * What a hop may change, each as text: `image <container>` and `resources <container>` of
   * every container and init container, `replicas`, and `volumeClaimTemplates`.
   */
  fields: Record<string, string>;
  /** The whole object, for the API server to judge an update of it (never printed). */
  object: Record<string, unknown>;
}

/** One queue block of Milvus' `default.yaml`, in the order the chart wrote them. */
export interface QueueBlock {
  /** `mq.type`: pulsar, kafka, woodpecker, rocksmq or natsmq. */
  type: string;
  /** `pulsar.address`, or `kafka.brokerList`, that follows it; absent for the others. */
  address?: string;
}

export interface Rendered {
  /** `Kind/name` of every object. */
  objects: string[];
  /** Deployments, StatefulSets and DaemonSets. */
  workloads: Workload[];
  /** The queue blocks of the Milvus config; undefined when no Milvus config was rendered. */
  queue: QueueBlock[] | undefined;
}

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function fields(spec: Record<string, unknown>): Record<string, string> {
  const podSpec = record(record(spec.template).spec);
  const out: Record<string, string> = {};
  for (const key of ['initContainers', 'containers']) {
    const list = podSpec[key];
    for (const container of Array.isArray(list) ? list.map(record) : []) {
      out[`image ${String(container.name)}`] = String(container.image);
      if (container.resources !== undefined) {
        out[`resources ${String(container.name)}`] = JSON.stringify(container.resources);
      }
    }
  }
  if (spec.replicas !== undefined) out.replicas = String(spec.replicas);
  const claims = spec.volumeClaimTemplates;
  if (Array.isArray(claims)) {
    out.volumeClaimTemplates = JSON.stringify(
      claims.map(record).map((claim) => ({ name: record(claim.metadata).name, spec: claim.spec })),
    );
  }
  return out;
}

/**
 * The queue blocks of a rendered `default.yaml`. The chart may render several (Pulsar and Kafka
 * both on), which repeats the top-level `mq` key, so the document is read pair by pair.
 */
export function queueBlocks(defaultYaml: string): QueueBlock[] {
  const doc = parseDocument(defaultYaml, { uniqueKeys: false });
  const blocks: QueueBlock[] = [];
  if (!isMap(doc.contents)) return blocks;
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    const value = isMap(pair.value) ? (pair.value.toJSON() as Record<string, unknown>) : {};
    const last = blocks.at(-1);
    if (key === 'mq') blocks.push({ type: String(value.type) });
    else if (key === 'pulsar' && last?.type === 'pulsar') last.address = String(value.address);
    else if (key === 'kafka' && last?.type === 'kafka') last.address = String(value.brokerList);
  }
  return blocks;
}

export function readManifest(manifest: string): Rendered {
  const rendered: Rendered = { objects: [], workloads: [], queue: undefined };
  for (const doc of parseAllDocuments(manifest)) {
    const object = record(doc.toJS({ maxAliasCount: 100 }) as unknown);
    const kind = typeof object.kind === 'string' ? object.kind : undefined;
    const name = record(object.metadata).name;
    if (!kind || typeof name !== 'string') continue;
    rendered.objects.push(`${kind}/${name}`);
    if (WORKLOAD_KINDS.includes(kind)) {
      const labels = record(record(object.metadata).labels) as Record<string, string>;
      const spec = record(object.spec);
      rendered.workloads.push({ kind, name, labels, fields: fields(spec), object });
    }
    const config = record(object.data)['default.yaml'];
    if (kind === 'ConfigMap' && typeof config === 'string') rendered.queue = queueBlocks(config);
  }
  return rendered;
}

/** How a queue reading reads in a message: `pulsar at my-milvus-pulsar-proxy`. */
export function describeQueue(blocks: readonly QueueBlock[] | undefined): string {
  if (!blocks || blocks.length === 0) return 'no message queue';
  return blocks.map((b) => (b.address ? `${b.type} at ${b.address}` : b.type)).join(' + ');
}
