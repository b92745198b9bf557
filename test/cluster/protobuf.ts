// Decodes the protobuf bodies Kubernetes clients send. Helm's release storage writes Secrets as
// `application/vnd.kubernetes.protobuf` and never falls back to JSON, so the server must read them.
// Only the messages clients send us are decoded: Secret, ConfigMap and DeleteOptions.
import { unsupportedMediaType } from './errors.ts';
import type { ObjectMeta, OwnerReference } from './types.ts';
import type { JsonObject } from './util.ts';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

interface Field {
  number: number;
  varint?: bigint;
  bytes?: Buffer;
}

/** Splits a protobuf message into its fields (wire types varint, 64-bit, length-delimited, 32-bit). */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error('truncated protobuf varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const number = tag >>> 3;
    switch (tag & 7) {
      case 0:
        out.push({ number, varint: varint() });
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = Number(varint());
        out.push({ number, bytes: buf.subarray(pos, pos + length) });
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${tag & 7}`);
    }
  }
  return out;
}

const text = (f: Field): string => f.bytes?.toString('utf8') ?? '';
const int = (f: Field): number => Number(BigInt.asIntN(64, f.varint ?? 0n));

function mapEntry(f: Field): [string, Buffer] {
  let key = '';
  let value: Buffer = Buffer.alloc(0);
  for (const e of fields(f.bytes ?? Buffer.alloc(0))) {
    if (e.number === 1) key = text(e);
    if (e.number === 2) value = e.bytes ?? Buffer.alloc(0);
  }
  return [key, value];
}

function stringMap(entries: Field[]): Record<string, string> {
  return Object.fromEntries(
    entries.map((f) => mapEntry(f)).map(([k, v]) => [k, v.toString('utf8')]),
  );
}

/** A metav1.Time; Go encodes its zero time (year 1) too, which means "unset". */
function time(f: Field): string | undefined {
  let seconds = 0;
  for (const t of fields(f.bytes ?? Buffer.alloc(0))) if (t.number === 1) seconds = int(t);
  return seconds > 0 ? new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
}

function ownerReference(f: Field): OwnerReference {
  const ref: OwnerReference = { apiVersion: '', kind: '', name: '', uid: '' };
  for (const o of fields(f.bytes ?? Buffer.alloc(0))) {
    if (o.number === 1) ref.kind = text(o);
    if (o.number === 3) ref.name = text(o);
    if (o.number === 4) ref.uid = text(o);
    if (o.number === 5) ref.apiVersion = text(o);
    if (o.number === 6) ref.controller = o.varint === 1n;
    if (o.number === 7) ref.blockOwnerDeletion = o.varint === 1n;
  }
  return ref;
}

function objectMeta(buf: Buffer): ObjectMeta {
  const meta: ObjectMeta = {};
  const labels: Field[] = [];
  const annotations: Field[] = [];
  for (const f of fields(buf)) {
    switch (f.number) {
      case 1:
        meta.name = text(f);
        break;
      case 2:
        meta.generateName = text(f);
        break;
      case 3:
        meta.namespace = text(f);
        break;
      case 5:
        meta.uid = text(f);
        break;
      case 6:
        meta.resourceVersion = text(f);
        break;
      case 7:
        meta.generation = int(f);
        break;
      case 8: {
        const created = time(f);
        if (created) meta.creationTimestamp = created;
        break;
      }
      case 11:
        labels.push(f);
        break;
      case 12:
        annotations.push(f);
        break;
      case 13:
        meta.ownerReferences = [...(meta.ownerReferences ?? []), ownerReference(f)];
        break;
      case 14:
        meta.finalizers = [...(meta.finalizers ?? []), text(f)];
        break;
    }
  }
  if (labels.length) meta.labels = stringMap(labels);
  if (annotations.length) meta.annotations = stringMap(annotations);
  // proto3 leaves empty strings unset; drop the ones a JSON client would not have sent either.
  for (const key of ['generateName', 'uid', 'resourceVersion'] as const)
    if (meta[key] === '') delete meta[key];
  return meta;
}

function secret(buf: Buffer, typeMeta: { apiVersion: string; kind: string }): JsonObject {
  const out: JsonObject = { ...typeMeta, metadata: {} };
  const data: Field[] = [];
  const stringData: Field[] = [];
  for (const f of fields(buf)) {
    if (f.number === 1) out.metadata = objectMeta(f.bytes ?? Buffer.alloc(0));
    if (f.number === 2) data.push(f);
    if (f.number === 3) out.type = text(f);
    if (f.number === 4) stringData.push(f);
    if (f.number === 5) out.immutable = f.varint === 1n;
  }
  if (data.length) {
    out.data = Object.fromEntries(data.map(mapEntry).map(([k, v]) => [k, v.toString('base64')]));
  }
  if (stringData.length) out.stringData = stringMap(stringData);
  return out;
}

function configMap(buf: Buffer, typeMeta: { apiVersion: string; kind: string }): JsonObject {
  const out: JsonObject = { ...typeMeta, metadata: {} };
  const data: Field[] = [];
  const binary: Field[] = [];
  for (const f of fields(buf)) {
    if (f.number === 1) out.metadata = objectMeta(f.bytes ?? Buffer.alloc(0));
    if (f.number === 2) data.push(f);
    if (f.number === 3) binary.push(f);
    if (f.number === 4) out.immutable = f.varint === 1n;
  }
  if (data.length) out.data = stringMap(data);
  if (binary.length) {
    out.binaryData = Object.fromEntries(
      binary.map(mapEntry).map(([k, v]) => [k, v.toString('base64')]),
    );
  }
  return out;
}

function deleteOptions(buf: Buffer, typeMeta: { apiVersion: string; kind: string }): JsonObject {
  const out: JsonObject = { ...typeMeta };
  for (const f of fields(buf)) {
    if (f.number === 1) out.gracePeriodSeconds = int(f);
    if (f.number === 2) {
      const preconditions: JsonObject = {};
      for (const p of fields(f.bytes ?? Buffer.alloc(0))) {
        if (p.number === 1) preconditions.uid = text(p);
        if (p.number === 2) preconditions.resourceVersion = text(p);
      }
      out.preconditions = preconditions;
    }
    if (f.number === 3) out.orphanDependents = f.varint === 1n;
    if (f.number === 4) out.propagationPolicy = text(f);
    if (f.number === 5) out.dryRun = [...((out.dryRun as string[]) ?? []), text(f)];
  }
  return out;
}

const DECODERS: Record<
  string,
  (buf: Buffer, typeMeta: { apiVersion: string; kind: string }) => JsonObject
> = {
  Secret: secret,
  ConfigMap: configMap,
  DeleteOptions: deleteOptions,
};

/** Decodes a `k8s\0`-framed protobuf body to the JSON object a JSON client would have sent. */
export function decodeProtobuf(body: Buffer): JsonObject {
  if (!body.subarray(0, 4).equals(MAGIC))
    throw unsupportedMediaType('protobuf without the k8s magic');
  const typeMeta = { apiVersion: '', kind: '' };
  let raw: Buffer = Buffer.alloc(0);
  for (const f of fields(body.subarray(4))) {
    if (f.number === 1) {
      for (const t of fields(f.bytes ?? Buffer.alloc(0))) {
        if (t.number === 1) typeMeta.apiVersion = text(t);
        if (t.number === 2) typeMeta.kind = text(t);
      }
    }
    if (f.number === 2) raw = f.bytes ?? Buffer.alloc(0);
  }
  const decoder = DECODERS[typeMeta.kind];
  if (!decoder)
    throw unsupportedMediaType(
      `application/vnd.kubernetes.protobuf for ${typeMeta.kind || 'an unknown kind'}`,
    );
  return decoder(raw, typeMeta);
}
