// Every workflow, example, README snippet and action.yml is checked against the GitHub Actions
// schemas (SchemaStore, through @action-validator/core), plus cheap consistency checks that the
// schema cannot make: inputs and outputs of this action, pinned third-party actions, concurrency,
// and README tables generated from action.yml.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateAction, validateWorkflow } from '@action-validator/core';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { checkDocs, endMarker, startMarker, updateReadme } from '../../scripts/docs.ts';
import { ROOT } from '../support/paths.ts';

// ---------------------------------------------------------------------------------------------
// The validator

interface ValidatorError {
  code: string;
  path?: string;
  title: string;
  detail?: string;
  states?: { errors: ValidatorError[] }[];
}

/** Leaf errors; of a oneOf, the branch with the fewest errors (the one most likely meant). */
function flatten(errors: ValidatorError[], out: string[] = []): string[] {
  for (const error of errors) {
    if (error.states && error.states.length > 0) {
      const closest = [...error.states].sort((a, b) => a.errors.length - b.errors.length)[0];
      flatten(closest?.errors ?? [], out);
    } else {
      out.push(`${error.path || '/'}: ${error.detail ?? error.title}`);
    }
  }
  return out;
}

interface Validation {
  problems: string[];
  /** What the validator printed, such as "glob validation is not yet supported". */
  notes: string[];
}

/** Runs the validator with its console output captured (it warns about globs it cannot check). */
function validate(kind: 'workflow' | 'action', source: string): Validation {
  const notes: string[] = [];
  const { warn, log } = console;
  console.warn = (...args: unknown[]) => notes.push(args.join(' '));
  console.log = (...args: unknown[]) => notes.push(args.join(' '));
  try {
    const state = kind === 'workflow' ? validateWorkflow(source) : validateAction(source);
    return { problems: flatten(state.errors as ValidatorError[]), notes };
  } finally {
    console.warn = warn;
    console.log = log;
  }
}

function assertValidWorkflow(source: string, label: string): void {
  const { problems } = validate('workflow', source);
  assert.deepEqual(problems, [], `${label} fails the workflow schema:\n  ${problems.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------
// The files

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

function yamlFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => `${dir}/${name}`);
}

const WORKFLOW_FILES = yamlFiles('.github/workflows');
const EXAMPLE_FILES = yamlFiles('examples');

type Map = Record<string, unknown>;

interface Step extends Map {
  id?: string;
  uses?: string;
  run?: string;
  with?: Map;
}

interface Job extends Map {
  steps?: Step[];
  concurrency?: unknown;
  'runs-on'?: unknown;
  'timeout-minutes'?: unknown;
}

interface Workflow extends Map {
  name?: string;
  permissions?: unknown;
  concurrency?: unknown;
  jobs: Record<string, Job>;
}

const isMap = (value: unknown): value is Map =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

interface Action {
  inputs: Record<string, { required?: boolean; default?: string; description?: string }>;
  outputs: Record<string, { description?: string }>;
  runs: { using: string; main: string };
}

const ACTION_SOURCE = read('action.yml');
const ACTION = parse(ACTION_SOURCE) as Action;
const INPUTS = new Set(Object.keys(ACTION.inputs));
const OUTPUTS = new Set(Object.keys(ACTION.outputs));
const REQUIRED_INPUTS = Object.entries(ACTION.inputs)
  .filter(([, input]) => input.required === true)
  .map(([name]) => name);

/** How the docs and examples refer to this action. */
const PUBLIC_REFERENCE = '<org>/milvus-upgrade-action@v1';

// ---------------------------------------------------------------------------------------------
// README code blocks

interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above the block. */
  heading: string;
}

function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const title = /^#{1,6}\s+(.*)$/.exec(line);
    if (title) heading = title[1]?.trim() ?? '';
    const fence = /^(\s*)```(\S*)\s*$/.exec(line);
    if (!fence) continue;
    const indent = fence[1]?.length ?? 0;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && (lines[j] ?? '').trim() !== '```') {
      body.push((lines[j] ?? '').slice(indent));
      j++;
    }
    blocks.push({ lang: fence[2] ?? '', code: `${body.join('\n')}\n`, line: i + 1, heading });
    i = j;
  }
  return blocks;
}

const README = read('README.md');
const README_BLOCKS = codeBlocks(README);
const README_YAML = README_BLOCKS.filter((block) => block.lang === 'yaml' || block.lang === 'yml');

type SnippetKind = 'workflow' | 'steps' | 'workflow keys' | 'kubernetes';

function snippetKind(block: CodeBlock): SnippetKind {
  const documents = parseAllDocuments(block.code);
  const docs = Array.isArray(documents) ? documents : [documents];
  if (docs.some((doc) => isMap(doc.toJS()) && 'apiVersion' in (doc.toJS() as Map))) {
    return 'kubernetes';
  }
  const value: unknown = parse(block.code);
  if (isMap(value) && 'jobs' in value) return 'workflow';
  if (Array.isArray(value) || (isMap(value) && ('uses' in value || 'run' in value))) return 'steps';
  return 'workflow keys';
}

/** A README snippet as a complete workflow the validator can check. */
function asWorkflow(block: CodeBlock): string {
  const kind = snippetKind(block);
  if (kind === 'workflow') return block.code;
  const value: unknown = parse(block.code);
  const skeletonJob = { 'runs-on': 'ubuntu-latest', steps: [{ run: 'true' }] };
  if (kind === 'steps') {
    const steps = Array.isArray(value) ? value : [value];
    return stringify({ on: 'workflow_dispatch', jobs: { snippet: { ...skeletonJob, steps } } });
  }
  return stringify({ on: 'workflow_dispatch', ...(value as Map), jobs: { snippet: skeletonJob } });
}

const QUICK_START = README_YAML.find((block) => /^quick start$/i.test(block.heading));

// ---------------------------------------------------------------------------------------------
// Everything that is a workflow, for the consistency checks

interface Source {
  label: string;
  workflow: Workflow;
  /** Snippets wrapped into a skeleton do not carry job-level settings of their own. */
  wrapped: boolean;
}

const SOURCES: Source[] = [
  ...WORKFLOW_FILES.map((path) => ({
    label: path,
    workflow: parse(read(path)) as Workflow,
    wrapped: false,
  })),
  ...EXAMPLE_FILES.map((path) => ({
    label: path,
    workflow: parse(read(path)) as Workflow,
    wrapped: false,
  })),
  ...README_YAML.filter((block) => snippetKind(block) !== 'kubernetes').map((block) => ({
    label: `README.md:${block.line}`,
    workflow: parse(asWorkflow(block)) as Workflow,
    wrapped: snippetKind(block) !== 'workflow',
  })),
];

function steps(workflow: Workflow): { job: string; step: Step }[] {
  return Object.entries(workflow.jobs ?? {}).flatMap(([job, body]) =>
    (body.steps ?? []).map((step) => ({ job, step })),
  );
}

const isThisAction = (uses: string): boolean =>
  uses === './' || /^[^/]+\/milvus-upgrade-action(@|$)/.test(uses);

/** Inputs passed to this action that action.yml does not declare, and required ones missing. */
export function inputProblems(step: Step): string[] {
  const given = Object.keys(step.with ?? {});
  return [
    ...given.filter((name) => !INPUTS.has(name)).map((name) => `unknown input '${name}'`),
    ...REQUIRED_INPUTS.filter((name) => !given.includes(name)).map(
      (name) => `required input '${name}' missing`,
    ),
  ];
}

/** A third-party `uses:` must name a major version tag or a full commit SHA. */
export function pinProblem(uses: string): string | undefined {
  if (uses.startsWith('./') || uses.startsWith('docker://')) return undefined;
  const match = /^[\w.-]+\/[\w.-]+(?:\/[\w./-]+)?@(.+)$/.exec(uses);
  if (!match) return `'${uses}' names no version`;
  const ref = match[1] ?? '';
  if (/^v\d+$/.test(ref) || /^[0-9a-f]{40}$/.test(ref)) return undefined;
  return `'${uses}' is not pinned to a major version (@v1) or a commit SHA`;
}

/** A third-party `uses:` line of the project's own workflows, with its trailing comment. */
export interface PinnedUse {
  line: number;
  uses: string;
  comment: string;
}

/** The `uses:` lines of a workflow's text (the comments are lost once the YAML is parsed). */
export function usesLines(source: string): PinnedUse[] {
  return source.split('\n').flatMap((text, index) => {
    const match = /^\s*(?:-\s+)?uses:\s*(['"]?)([^\s'"#]+)\1\s*(?:#\s*(.*))?$/.exec(text);
    if (!match?.[2] || text.trimStart().startsWith('#')) return [];
    return [{ line: index + 1, uses: match[2], comment: (match[3] ?? '').trim() }];
  });
}

/**
 * The project's workflows run with a write token (release.yml), so a third-party action is pinned
 * to the commit of a release, which a moved tag cannot change, and names that release in a
 * `# vX.Y.Z` comment for readers and Dependabot.
 */
export function shaPinProblem({ uses, comment }: PinnedUse): string | undefined {
  if (uses.startsWith('./') || isThisAction(uses)) return undefined;
  if (uses.startsWith('docker://')) {
    return /@sha256:[0-9a-f]{64}$/.test(uses) ? undefined : `'${uses}' is not pinned to a digest`;
  }
  if (!/^[\w.-]+\/[\w.-]+(?:\/[\w./-]+)?@[0-9a-f]{40}$/.test(uses)) {
    return `'${uses}' is not pinned to a full commit SHA`;
  }
  if (!/^v\d+\.\d+\.\d+$/.test(comment)) {
    return `'${uses}' has no '# vX.Y.Z' comment naming its release`;
  }
  return undefined;
}

/** The major version a `uses:` names: its tag, or the release in its comment. */
export function majorOf({ uses, comment }: Pick<PinnedUse, 'uses' | 'comment'>): string {
  const ref = uses.split('@')[1] ?? '';
  return /^v\d+/.exec(/^[0-9a-f]{40}$/.test(ref) ? comment : ref)?.[0] ?? ref;
}

// ---------------------------------------------------------------------------------------------

describe('workflow files', () => {
  it('has the project workflows', () => {
    for (const name of ['ci.yml', 'check-dist.yml', 'e2e-kind.yml', 'release.yml']) {
      assert.ok(WORKFLOW_FILES.includes(`.github/workflows/${name}`), `missing ${name}`);
    }
  });

  for (const path of WORKFLOW_FILES) {
    it(`${path} passes the workflow schema`, () => assertValidWorkflow(read(path), path));
  }
});

describe('examples', () => {
  it('has the documented examples', () => {
    assert.ok(EXAMPLE_FILES.length >= 5, `only ${EXAMPLE_FILES.length} examples`);
  });

  for (const path of EXAMPLE_FILES) {
    it(`${path} passes the workflow schema`, () => assertValidWorkflow(read(path), path));
  }
});

describe('action.yml', () => {
  it('runs on node24 from dist/index.js', () => {
    assert.equal(ACTION.runs.using, 'node24');
    assert.equal(ACTION.runs.main, 'dist/index.js');
  });

  it('passes the action schema', () => {
    // @action-validator/core 0.6.0 bundles a SchemaStore schema that predates `node24` (it knows
    // node12/16/20). Its only complaint may be that one value; everything else must pass as is.
    const raw = validate('action', ACTION_SOURCE);
    if (raw.problems.length === 0) return; // a newer validator: nothing to work around
    assert.deepEqual(
      raw.problems.filter((problem) => !problem.startsWith('/runs/using:')),
      [],
      `action.yml fails the action schema:\n  ${raw.problems.join('\n  ')}`,
    );
    const asNode20 = ACTION_SOURCE.replace(/^(\s+using:\s*)['"]?node24['"]?\s*$/m, '$1node20');
    assert.notEqual(asNode20, ACTION_SOURCE, 'could not find `using: node24` to substitute');
    const patched = validate('action', asNode20);
    assert.deepEqual(patched.problems, [], `action.yml fails:\n  ${patched.problems.join('\n  ')}`);
  });

  it('fits the Marketplace: a name and a description of at most 125 characters', () => {
    const { description = '' } = parse(ACTION_SOURCE) as { description?: string };
    assert.ok(description.trim(), 'action.yml has a description');
    assert.ok(description.length <= 125, `the description has ${description.length} characters`);
  });

  it('describes every input and output', () => {
    for (const [name, input] of Object.entries(ACTION.inputs)) {
      assert.ok(input.description?.trim(), `input ${name} has no description`);
      assert.ok(
        input.required === true || input.default !== undefined,
        `optional input ${name} has no default`,
      );
    }
    for (const [name, output] of Object.entries(ACTION.outputs)) {
      assert.ok(output.description?.trim(), `output ${name} has no description`);
    }
  });
});

describe('the validator catches mistakes (negative cases)', () => {
  const good = read('.github/workflows/ci.yml');

  it('rejects a misspelt job key', () => {
    const broken = good.replace('runs-on: ubuntu-latest', 'run-on: ubuntu-latest');
    assert.notEqual(broken, good);
    const { problems } = validate('workflow', broken);
    assert.ok(
      problems.some((problem) => problem.includes("'run-on'")),
      problems.join('\n'),
    );
  });

  it('rejects an unknown trigger and a step with a bad key', () => {
    const broken = [
      'name: Broken',
      'on: pushed',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - uses: actions/checkout@v6',
      '        wiht:',
      '          fetch-depth: 0',
      '',
    ].join('\n');
    const { problems } = validate('workflow', broken);
    assert.ok(problems.length > 0, 'a broken workflow passed');
  });

  it('rejects YAML that does not parse', () => {
    const { problems } = validate('workflow', 'on: [push\njobs: {}\n');
    assert.ok(problems.length > 0, 'unparsable YAML passed');
  });

  it('rejects an action.yml without runs', () => {
    const { problems } = validate('action', 'name: x\ndescription: y\n');
    assert.ok(problems.length > 0, 'an action without runs passed');
  });

  it('the consistency helpers flag unknown inputs and floating refs', () => {
    assert.deepEqual(inputProblems({ uses: PUBLIC_REFERENCE, with: { 'release-name': 'm' } }), []);
    assert.deepEqual(inputProblems({ uses: PUBLIC_REFERENCE, with: { release: 'm' } }), [
      "unknown input 'release'",
      "required input 'release-name' missing",
    ]);
    assert.equal(pinProblem('actions/checkout@v6'), undefined);
    assert.equal(pinProblem(`actions/checkout@${'a'.repeat(40)}`), undefined);
    assert.ok(pinProblem('actions/checkout@main'));
    assert.ok(pinProblem('actions/checkout@v6.0.1'));
    assert.ok(pinProblem('actions/checkout'));
    const sha = 'a'.repeat(40);
    const pinned = (line: string) => usesLines(line).map((use) => shaPinProblem(use) ?? 'ok');
    assert.deepEqual(pinned(`      - uses: actions/checkout@${sha} # v6.1.0`), ['ok']);
    assert.deepEqual(pinned(`        uses: "actions/checkout@${sha}"  #  v6.1.0`), ['ok']);
    assert.deepEqual(pinned('        uses: ./'), ['ok']);
    assert.deepEqual(pinned('      # uses: actions/checkout@v6'), []);
    assert.match(pinned('        uses: actions/checkout@v6')[0] ?? '', /full commit SHA/);
    assert.match(pinned(`        uses: actions/checkout@${sha}`)[0] ?? '', /vX\.Y\.Z/);
    assert.match(pinned(`        uses: actions/checkout@${sha} # v6`)[0] ?? '', /vX\.Y\.Z/);
    assert.match(pinned(`        uses: actions/checkout@${sha.slice(1)} # v6.1.0`)[0] ?? '', /SHA/);
    assert.equal(majorOf({ uses: `actions/checkout@${sha}`, comment: 'v6.1.0' }), 'v6');
    assert.equal(majorOf({ uses: 'actions/checkout@v6', comment: '' }), 'v6');
  });
});

describe('README', () => {
  it('has a quick start that is a complete, valid workflow using the action', () => {
    assert.ok(QUICK_START, 'no yaml block under the "Quick start" heading');
    assert.equal(snippetKind(QUICK_START), 'workflow', 'the quick start is not a whole workflow');
    assertValidWorkflow(QUICK_START.code, `README.md:${QUICK_START.line} (quick start)`);
    const workflow = parse(QUICK_START.code) as Workflow;
    const uses = steps(workflow).map(({ step }) => step.uses);
    assert.ok(uses.includes(PUBLIC_REFERENCE), `the quick start does not use ${PUBLIC_REFERENCE}`);
  });

  it('every YAML snippet is valid (steps and fragments wrapped into a workflow)', () => {
    assert.ok(README_YAML.length >= 3, 'expected several YAML blocks');
    for (const block of README_YAML) {
      const kind = snippetKind(block);
      const label = `README.md:${block.line} (${kind})`;
      if (kind === 'kubernetes') {
        const docs = parseAllDocuments(block.code);
        for (const doc of Array.isArray(docs) ? docs : [docs]) {
          assert.deepEqual(doc.errors, [], `${label} does not parse`);
        }
        continue;
      }
      assertValidWorkflow(asWorkflow(block), label);
    }
  });

  it('has a ready Role and RoleBinding', () => {
    const manifests = README_YAML.filter((block) => snippetKind(block) === 'kubernetes').flatMap(
      (block) => {
        const docs = parseAllDocuments(block.code);
        return (Array.isArray(docs) ? docs : [docs]).map((doc) => doc.toJS() as Map);
      },
    );
    const role = manifests.find((m) => m.kind === 'Role') as
      | { rules: { resources: string[]; verbs: string[] }[] }
      | undefined;
    const binding = manifests.find((m) => m.kind === 'RoleBinding') as
      | { roleRef: { name: string } }
      | undefined;
    assert.ok(role, 'no Role');
    assert.ok(binding, 'no RoleBinding');
    const can = (resource: string, verb: string) =>
      role.rules.some((rule) => rule.resources.includes(resource) && rule.verbs.includes(verb));
    for (const resource of ['pods', 'deployments', 'replicasets', 'statefulsets', 'services']) {
      for (const verb of ['get', 'list', 'watch'])
        assert.ok(can(resource, verb), `${verb} ${resource}`);
    }
    for (const resource of ['configmaps', 'persistentvolumeclaims', 'jobs', 'events']) {
      assert.ok(can(resource, 'list'), `list ${resource}`);
    }
    for (const resource of ['secrets', 'deployments', 'statefulsets', 'services', 'configmaps']) {
      for (const verb of ['create', 'update', 'patch', 'delete']) {
        assert.ok(can(resource, verb), `${verb} ${resource}`);
      }
    }
  });

  it('names exactly the two commands to try the project', () => {
    const section = README_BLOCKS.filter((block) => /^try it/i.test(block.heading));
    assert.deepEqual(
      section.map((block) => block.code.trim()),
      ['npm ci && npm run demo', 'npm test'],
    );
  });

  it('has the sections the issue asks for', () => {
    const headings = [...README.matchAll(/^#{2,3}\s+(.+)$/gm)].map((m) => m[1]?.toLowerCase());
    for (const wanted of [
      'quick start',
      'inputs',
      'outputs',
      'the upgrade path',
      'what is checked before anything changes',
      'what the action refuses, and why',
      'resuming and rolling back',
      'reading the job summary',
      'kubernetes permissions (rbac)',
      'air-gapped use',
      'helm 3 and helm 4',
      'proxies',
      'supported runners',
      'performance',
    ]) {
      assert.ok(headings.includes(wanted), `README has no "${wanted}" heading`);
    }
    assert.match(README, /```mermaid\n/, 'the upgrade path diagram is missing');
  });
});

describe('generated docs', () => {
  it('README.md tables match action.yml (npm run docs leaves no diff)', () => {
    const result = checkDocs(ROOT);
    assert.equal(result.stale, false, result.message);
  });

  it('every input and output appears in the tables', () => {
    for (const name of [...INPUTS, ...OUTPUTS]) {
      assert.ok(README.includes(`| \`${name}\` |`), `${name} is not in the README tables`);
    }
  });

  it('the check reports a stale README with a hint, and missing markers loudly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docs-check-'));
    try {
      writeFileSync(join(dir, 'action.yml'), ACTION_SOURCE);
      writeFileSync(join(dir, 'README.md'), README.replace('| `namespace` |', '| `name-space` |'));
      const stale = checkDocs(dir);
      assert.equal(stale.stale, true);
      assert.match(stale.message, /npm run docs/);
      assert.match(stale.message, /name-space/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const withoutMarkers = README.replace(startMarker('outputs'), '').replace(
      endMarker('outputs'),
      '',
    );
    assert.throws(() => updateReadme(withoutMarkers, ACTION_SOURCE), /marker/);
  });
});

describe('consistency', () => {
  it('every use of this action passes only inputs that exist, and the required ones', () => {
    const problems: string[] = [];
    for (const { label, workflow } of SOURCES) {
      for (const { job, step } of steps(workflow)) {
        if (!step.uses || !isThisAction(step.uses)) continue;
        for (const problem of inputProblems(step)) problems.push(`${label} job ${job}: ${problem}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('docs and examples refer to the action as <org>/milvus-upgrade-action@v1', () => {
    const problems: string[] = [];
    for (const { label, workflow } of SOURCES) {
      if (label.startsWith('.github/')) continue;
      for (const { step } of steps(workflow)) {
        if (step.uses && isThisAction(step.uses) && step.uses !== PUBLIC_REFERENCE) {
          problems.push(`${label}: ${step.uses}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('outputs read from this action exist in action.yml', () => {
    const problems: string[] = [];
    for (const { label, workflow } of SOURCES) {
      for (const [name, job] of Object.entries(workflow.jobs ?? {})) {
        const ours = new Set(
          (job.steps ?? [])
            .filter((step) => step.id && step.uses && isThisAction(step.uses))
            .map((step) => step.id),
        );
        for (const [, id, output] of JSON.stringify(job).matchAll(
          /steps\.([\w-]+)\.outputs\.([\w-]+)/g,
        )) {
          if (ours.has(id) && !OUTPUTS.has(output ?? '')) {
            problems.push(`${label} job ${name}: steps.${id}.outputs.${output}`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('the project workflows pin third-party actions to a release commit SHA with its version', () => {
    const problems: string[] = [];
    const shas = new Map<string, Set<string>>();
    for (const path of WORKFLOW_FILES) {
      const uses = usesLines(read(path));
      const parsed = steps(parse(read(path)) as Workflow).filter(({ step }) => step.uses);
      // Every step's `uses:` was seen by the line scanner, so none escapes the check.
      assert.equal(uses.length, parsed.length, `${path}: uses: lines the scanner did not read`);
      for (const use of uses) {
        const problem = shaPinProblem(use);
        if (problem) problems.push(`${path}:${use.line}: ${problem}`);
        if (use.uses.startsWith('./')) continue;
        const name = (use.uses.split('@')[0] ?? '').toLowerCase();
        shas.set(name, (shas.get(name) ?? new Set()).add(`${use.uses} # ${use.comment}`));
      }
    }
    for (const [name, pins] of shas) {
      if (pins.size > 1) problems.push(`${name} is pinned differently: ${[...pins].join(', ')}`);
    }
    assert.deepEqual(problems, []);
  });

  it('examples and README pin third-party actions to a major version or a SHA, one major per action', () => {
    const problems: string[] = [];
    const majors = new Map<string, Set<string>>();
    const note = (name: string, major: string) => {
      // An example pinned to a bare SHA names no major to compare.
      if (/^v\d+$/.test(major)) {
        majors.set(name.toLowerCase(), (majors.get(name.toLowerCase()) ?? new Set()).add(major));
      }
    };
    for (const { label, workflow } of SOURCES) {
      if (label.startsWith('.github/')) continue;
      for (const { step } of steps(workflow)) {
        if (!step.uses || isThisAction(step.uses)) continue;
        const problem = pinProblem(step.uses);
        if (problem) problems.push(`${label}: ${problem}`);
        note(step.uses.split('@')[0] ?? '', majorOf({ uses: step.uses, comment: '' }));
      }
    }
    // Users copy the examples: they stay on the majors the project's own workflows run.
    for (const path of WORKFLOW_FILES) {
      for (const use of usesLines(read(path))) {
        if (!use.uses.startsWith('./')) note(use.uses.split('@')[0] ?? '', majorOf(use));
      }
    }
    for (const [name, versions] of majors) {
      if (versions.size > 1) problems.push(`${name} is used at ${[...versions].join(' and ')}`);
    }
    assert.deepEqual(problems, []);
  });

  it('workflows set permissions, and jobs a timeout', () => {
    const problems: string[] = [];
    for (const { label, workflow, wrapped } of SOURCES) {
      if (wrapped) continue;
      if (workflow.permissions === undefined) problems.push(`${label}: no permissions`);
      for (const [name, job] of Object.entries(workflow.jobs ?? {})) {
        if (job['runs-on'] !== undefined && job['timeout-minutes'] === undefined) {
          problems.push(`${label} job ${name}: no timeout-minutes`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('every job that upgrades a cluster is in a concurrency group that never cancels it', () => {
    const problems: string[] = [];
    for (const { label, workflow, wrapped } of SOURCES) {
      if (wrapped || label.startsWith('.github/')) continue;
      for (const [name, job] of Object.entries(workflow.jobs ?? {})) {
        if (!(job.steps ?? []).some((step) => step.uses && isThisAction(step.uses))) continue;
        const concurrency = job.concurrency ?? workflow.concurrency;
        if (!isMap(concurrency) || typeof concurrency.group !== 'string') {
          problems.push(`${label} job ${name}: no concurrency group`);
          continue;
        }
        if (!concurrency.group.startsWith('milvus-upgrade-')) {
          problems.push(
            `${label} job ${name}: group '${concurrency.group}' is not milvus-upgrade-…`,
          );
        }
        if (concurrency['cancel-in-progress'] !== false) {
          problems.push(`${label} job ${name}: cancel-in-progress must be false`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('workflow and example names are unique', () => {
    const names = SOURCES.filter(({ wrapped, label }) => !wrapped && !label.startsWith('README'))
      .map(({ workflow }) => workflow.name)
      .filter((name): name is string => typeof name === 'string');
    assert.deepEqual(
      names.filter((name, index) => names.indexOf(name) !== index),
      [],
    );
  });

  it('npm scripts run by the workflows exist', () => {
    const scripts = Object.keys(
      (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
    );
    const used = new Set<string>();
    for (const { workflow } of SOURCES) {
      for (const { step } of steps(workflow)) {
        for (const [, script] of (step.run ?? '').matchAll(
          /npm run (?:--silent |-s )?([\w:-]+)/g,
        )) {
          used.add(script ?? '');
        }
      }
    }
    const missing = [...used].filter((script) => !scripts.includes(script));
    assert.deepEqual(missing, [], `workflows run scripts package.json lacks`);
  });

  it('.env.example names every input of action.yml, and only those, for npm run local-action', () => {
    const named = [...read('.env.example').matchAll(/^#?\s*INPUT_([A-Z0-9_-]+)=/gm)].map(
      ([, name]) => (name ?? '').toLowerCase(),
    );
    assert.deepEqual(
      named.filter((name) => !INPUTS.has(name)),
      [],
      '.env.example names inputs action.yml lacks',
    );
    assert.deepEqual(
      [...INPUTS].filter((name) => !named.includes(name)),
      [],
      'inputs missing from .env.example',
    );
    assert.match(read('.gitignore'), /^\.env$/m, '.env is not ignored by git');
  });

  it('dependabot keeps npm and GitHub Actions current', () => {
    const config = parse(read('.github/dependabot.yml')) as {
      version: number;
      updates: { 'package-ecosystem': string }[];
    };
    assert.equal(config.version, 2);
    const ecosystems = config.updates.map((update) => update['package-ecosystem']);
    assert.ok(ecosystems.includes('npm'));
    assert.ok(ecosystems.includes('github-actions'));
  });

  it('has the community files, with a CHANGELOG entry for the package version', () => {
    const license = read('LICENSE');
    assert.match(license, /^MIT License/);
    assert.match(license, /Copyright \(c\) 2026 milvus-upgrade-action contributors/);
    const version = (JSON.parse(read('package.json')) as { version: string }).version;
    assert.ok(read('CHANGELOG.md').includes(`## [${version}]`), `CHANGELOG.md has no ${version}`);
    assert.match(read('SECURITY.md'), /vulnerabilit/i);
    assert.match(read('CONTRIBUTING.md'), /npm test/);
  });
});

describe('issue templates and code owners', () => {
  interface FormElement {
    type: string;
    id?: string;
    attributes?: { label?: string; value?: string; render?: string; options?: unknown[] };
    validations?: { required?: boolean };
  }
  interface IssueForm {
    name?: string;
    description?: string;
    body?: FormElement[];
  }
  const TYPES = new Set(['markdown', 'input', 'textarea', 'dropdown', 'checkboxes']);
  const form = (name: string) => parse(read(`.github/ISSUE_TEMPLATE/${name}`)) as IssueForm;

  /** What GitHub refuses in an issue form: no name or body, unknown types, missing labels or ids. */
  function formProblems({ name, description, body }: IssueForm): string[] {
    const problems: string[] = [];
    if (!name || !description) problems.push('no name or description');
    if (!Array.isArray(body) || body.length === 0) return [...problems, 'no body'];
    const ids = body.flatMap((element) => (element.id ? [element.id] : []));
    if (new Set(ids).size !== ids.length) problems.push(`duplicate ids: ${ids.join(', ')}`);
    for (const [index, element] of body.entries()) {
      if (!TYPES.has(element.type)) problems.push(`body[${index}]: unknown type ${element.type}`);
      if (element.type === 'markdown') {
        if (!element.attributes?.value) problems.push(`body[${index}]: markdown without value`);
        continue;
      }
      if (!element.id || !/^[\w-]+$/.test(element.id)) problems.push(`body[${index}]: bad id`);
      if (!element.attributes?.label) problems.push(`body[${index}]: no label`);
      if (['dropdown', 'checkboxes'].includes(element.type) && !element.attributes?.options?.length)
        problems.push(`body[${index}]: no options`);
    }
    return problems;
  }

  it('has a bug report and a feature request that GitHub can render', () => {
    const templates = readdirSync(join(ROOT, '.github/ISSUE_TEMPLATE')).sort();
    assert.deepEqual(templates, ['bug_report.yml', 'config.yml', 'feature_request.yml']);
    for (const name of ['bug_report.yml', 'feature_request.yml']) {
      assert.deepEqual(formProblems(form(name)), [], name);
    }
  });

  it('the bug report asks for the versions and the job log without secrets, all required', () => {
    const body = form('bug_report.yml').body ?? [];
    const byId = new Map(body.map((element) => [element.id, element]));
    for (const id of ['action-version', 'helm-version', 'milvus-before', 'milvus-target', 'log']) {
      assert.equal(byId.get(id)?.validations?.required, true, `${id} is not a required field`);
    }
    assert.equal(byId.get('log')?.type, 'textarea');
    assert.equal(byId.get('log')?.attributes?.render, 'text', 'the log is not rendered as code');
    assert.match(JSON.stringify(byId.get('log')), /secrets removed/);
    assert.match(JSON.stringify(byId.get('secrets')), /"required":true/);
  });

  it('config.yml turns blank issues off and points security reports to private reporting', () => {
    const config = parse(read('.github/ISSUE_TEMPLATE/config.yml')) as {
      blank_issues_enabled?: boolean;
      contact_links?: { name?: string; url?: string; about?: string }[];
    };
    assert.equal(config.blank_issues_enabled, false);
    const links = config.contact_links ?? [];
    for (const link of links) {
      assert.ok(link.name && link.about, `contact link ${link.url} has no name or about`);
      assert.match(link.url ?? '', /^https:\/\//);
    }
    assert.ok(links.some((link) => link.url?.endsWith('/security/advisories/new')));
  });

  it('CODEOWNERS gives every path an owner', () => {
    const rules = read('.github/CODEOWNERS')
      .split('\n')
      .filter((line) => line.trim() && !line.trimStart().startsWith('#'));
    assert.ok(
      rules.some((line) => /^\*\s+@\S+/.test(line)),
      'no catch-all (*) rule with an owner',
    );
  });
});
