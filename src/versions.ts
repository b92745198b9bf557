// Milvus versions as the action compares them: semver with a `v` prefix, read from image tags.
import semver from 'semver';

/** `2.5.16` or `v2.5.16` → `v2.5.16`; anything that is not a full semver → undefined. */
export function normalizeVersion(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (!/^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(trimmed)) return undefined;
  const parsed = semver.parse(trimmed.replace(/^v/, ''));
  return parsed ? `v${parsed.version}` : undefined;
}

/** The tag of an image reference (`registry:5000/milvusdb/milvus:v2.5.16@sha256:…` → `v2.5.16`). */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0] ?? '';
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  return colon < 0 ? undefined : name.slice(colon + 1);
}

export function compareVersions(a: string, b: string): number {
  return semver.compare(a.replace(/^v/, ''), b.replace(/^v/, ''));
}

export function isPrerelease(version: string): boolean {
  return semver.prerelease(version.replace(/^v/, '')) !== null;
}

/** `v2.6.4` → `2.6`. */
export function series(version: string): string {
  const parsed = semver.parse(version.replace(/^v/, ''));
  return parsed ? `${parsed.major}.${parsed.minor}` : '';
}

export function sortVersions(versions: Iterable<string>): string[] {
  return [...new Set(versions)].sort(compareVersions);
}
