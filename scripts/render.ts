// Renders what the action writes for a runner as plain text for a terminal: its log (workflow
// commands such as ::group:: on stdout) and its job summary (the HTML and Markdown that
// @actions/core's summary writes). Used by the demo and the benchmark.

export interface RenderOptions {
  /** ANSI colours; only when the output is a terminal. */
  color: boolean;
  /** Columns to wrap long lines and tables to. */
  width: number;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point.
const ANSI = /\u001b\[[0-9;]*m/g;

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
  cyan(text: string): string;
}

/** Colours word by word, so that wrapped lines and table borders never inherit a colour. */
function paint(on: number, off: number): (text: string) => string {
  return (text) => text.replace(/\S+/g, (word) => `\u001b[${on}m${word}\u001b[${off}m`);
}

const same = (text: string): string => text;

export function style(color: boolean): Style {
  if (!color) return { bold: same, dim: same, red: same, yellow: same, green: same, cyan: same };
  return {
    bold: paint(1, 22),
    dim: paint(2, 22),
    red: paint(31, 39),
    yellow: paint(33, 39),
    green: paint(32, 39),
    cyan: paint(36, 39),
  };
}

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

const WIDE =
  /\p{Emoji_Presentation}|[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u;
const ZERO_WIDTH = /\p{Mn}|\p{Me}|\u200d/u;

/** Columns `text` takes in a terminal: emoji and CJK take two, ANSI escapes and marks none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of stripAnsi(text)) width += ZERO_WIDTH.test(char) ? 0 : WIDE.test(char) ? 2 : 1;
  return width;
}

function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** Splits a word after `columns` columns, never inside an ANSI escape. */
function cutWord(word: string, columns: number): [string, string] {
  let used = 0;
  let at = 0;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are one token.
  for (const [token] of word.matchAll(/\u001b\[[0-9;]*m|./gsu)) {
    const width = displayWidth(token);
    if (used + width > columns && used > 0) break;
    used += width;
    at += token.length;
  }
  return [word.slice(0, at), word.slice(at)];
}

export interface WrapOptions {
  /** Put before continuation lines, after the line's own indentation. */
  hang?: string;
  /** Cut words longer than a line (table cells); otherwise they overflow (URLs stay whole). */
  cut?: boolean;
}

/** Wraps each line of `text` at spaces to `width` columns, keeping its indentation. */
export function wrap(text: string, width: number, options: WrapOptions = {}): string[] {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    const indent = /^ */.exec(paragraph)?.[0] ?? '';
    const words = paragraph.slice(indent.length).split(/ +/).filter(Boolean);
    const next = `${indent}${options.hang ?? ''}`;
    let line = indent;
    let empty = true;
    for (let word of words) {
      if (!empty && displayWidth(line) + 1 + displayWidth(word) > width) {
        out.push(line);
        line = next;
        empty = true;
      }
      while (options.cut && displayWidth(line) + displayWidth(word) > width) {
        const [head, tail] = cutWord(word, Math.max(1, width - displayWidth(line)));
        out.push(line + head);
        line = next;
        word = tail;
      }
      line += (empty ? '' : ' ') + word;
      empty = false;
    }
    out.push(line);
  }
  return out;
}

export interface TableOptions {
  width: number;
  /** The first row is a header. Default true. */
  header?: boolean;
  style?: Style;
}

/** A boxed text table whose widest columns wrap so that it fits in `width` columns. */
export function table(rows: string[][], options: TableOptions): string[] {
  const s = options.style ?? style(false);
  const header = options.header ?? true;
  const columns = Math.max(0, ...rows.map((row) => row.length));
  if (columns === 0) return [];
  const cells = rows.map((row) => Array.from({ length: columns }, (_, i) => row[i] ?? ''));
  const lineWidths = (cell: string) => cell.split('\n').map(displayWidth);
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(1, ...cells.flatMap((row) => lineWidths(row[i] ?? ''))),
  );
  // Shrink the widest column first: down to its longest word (up to 24 columns, the length of an
  // image reference) while that is enough, then further, cutting words, when it is not.
  const longestWord = (i: number) =>
    Math.max(...cells.flatMap((row) => (row[i] ?? '').split(/\s+/).map(displayWidth)));
  const floors = [
    widths.map((natural, i) => Math.min(natural, Math.max(6, Math.min(24, longestWord(i))))),
    widths.map((natural) => Math.min(natural, 3)),
  ];
  for (const floor of floors) {
    while (widths.reduce((sum, w) => sum + w + 3, 1) > options.width) {
      let widest = -1;
      widths.forEach((w, i) => {
        if (w > (floor[i] ?? 0) && (widest < 0 || w > (widths[widest] ?? 0))) widest = i;
      });
      if (widest < 0) break;
      widths[widest] = (widths[widest] ?? 1) - 1;
    }
  }

  const wrapped = cells.map((row) =>
    row.map((cell, i) => wrap(cell, widths[i] ?? 1, { cut: true })),
  );
  const rule = (left: string, middle: string, right: string) =>
    s.dim(left + widths.map((w) => '─'.repeat(w + 2)).join(middle) + right);
  const bar = s.dim('│');
  const render = (row: string[][], bold: boolean) => {
    const height = Math.max(...row.map((lines) => lines.length));
    return Array.from({ length: height }, (_, k) =>
      [
        bar,
        row
          .map(
            (lines, i) =>
              ` ${padEnd(bold ? s.bold(lines[k] ?? '') : (lines[k] ?? ''), widths[i] ?? 1)} `,
          )
          .join(bar),
        bar,
      ].join(''),
    );
  };
  const head = header ? wrapped.slice(0, 1) : [];
  const body = header ? wrapped.slice(1) : wrapped;
  // Wrapped rows are told apart by rules between them; single-line rows need none.
  const ruled = body.some((row) => row.some((lines) => lines.length > 1));
  const out = [rule('┌', '┬', '┐')];
  for (const row of head) out.push(...render(row, true), rule('├', '┼', '┤'));
  body.forEach((row, index) => {
    if (ruled && index > 0) out.push(rule('├', '┼', '┤'));
    out.push(...render(row, false));
  });
  out.push(rule('└', '┴', '┘'));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The log

/** Commands that only talk to the runner: nothing a reader of the log needs. */
const HIDDEN = new Set([
  'debug',
  'add-mask',
  'add-path',
  'set-env',
  'set-output',
  'save-state',
  'add-matcher',
  'remove-matcher',
  'echo',
]);

const ANNOTATIONS = {
  error: { label: 'Error', mark: '✖' },
  warning: { label: 'Warning', mark: '⚠' },
  notice: { label: 'Notice', mark: 'ℹ' },
} as const;

function unescapeData(text: string): string {
  return text.replaceAll('%0D', '\r').replaceAll('%0A', '\n').replaceAll('%25', '%');
}

function unescapeProperty(text: string): string {
  return unescapeData(text).replaceAll('%3A', ':').replaceAll('%2C', ',');
}

function properties(raw: string | undefined): Record<string, string> {
  const props: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) props[pair.slice(0, at).trim()] = unescapeProperty(pair.slice(at + 1));
  }
  return props;
}

/**
 * Turns the action's stdout into a readable log: `::group::` into headed, indented sections,
 * annotations into highlighted lines, runner-only commands hidden. Feed it chunks as they come.
 */
export class LogRenderer {
  readonly #options: RenderOptions;
  readonly #s: Style;
  #pending = '';
  #inGroup = false;
  /** Whether the last line written was a group's, to set the log after a group apart. */
  #afterGroup = false;
  /** Blank lines are written one at a time, never first. */
  #blank = true;
  /** Set by `::stop-commands::<token>`: lines are plain text until `::<token>::`. */
  #stopToken: string | undefined;

  constructor(options: RenderOptions) {
    this.#options = options;
    this.#s = style(options.color);
  }

  /** Renders the complete lines of `chunk`; a trailing partial line waits for more. */
  push(chunk: string): string {
    const lines = (this.#pending + chunk).split('\n');
    this.#pending = lines.pop() ?? '';
    return lines.map((line) => this.#write(this.#line(line.replace(/\r$/, '')))).join('');
  }

  /** Renders what is left once the output has ended. */
  end(): string {
    const rest = this.#pending;
    this.#pending = '';
    return rest ? this.#write(this.#line(rest)) : '';
  }

  #write(lines: string[]): string {
    let out = '';
    for (const line of lines) {
      const blank = stripAnsi(line).trim() === '';
      if (!(blank && this.#blank)) out += `${line}\n`;
      this.#blank = blank;
    }
    return out;
  }

  #line(line: string): string[] {
    if (this.#stopToken !== undefined) {
      if (line === `::${this.#stopToken}::`) {
        this.#stopToken = undefined;
        return [];
      }
      return this.#text(line);
    }
    const command = /^::([a-zA-Z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!command) {
      // @actions/exec announces the programs it starts this way.
      if (line.startsWith('[command]')) return this.#text(`$ ${line.slice(9)}`, this.#s.dim);
      return this.#text(line);
    }
    const [, name = '', props, data = ''] = command;
    if (name === 'group') {
      this.#inGroup = true;
      this.#afterGroup = true;
      return ['', this.#s.bold(`▶ ${unescapeData(data)}`)];
    }
    if (name === 'endgroup') {
      this.#inGroup = false;
      return [];
    }
    if (name === 'stop-commands') {
      this.#stopToken = data;
      return [];
    }
    if (name === 'error' || name === 'warning' || name === 'notice') {
      return this.#annotation(name, properties(props), unescapeData(data));
    }
    return HIDDEN.has(name) ? [] : this.#text(line);
  }

  #annotation(kind: keyof typeof ANNOTATIONS, props: Record<string, string>, message: string) {
    const { label, mark } = ANNOTATIONS[kind];
    const where = props.file ? ` (${props.file}${props.line ? `:${props.line}` : ''})` : '';
    const head = `${mark} ${label}${props.title ? `: ${props.title}` : ''}${where}: `;
    const color =
      kind === 'error' ? this.#s.red : kind === 'warning' ? this.#s.yellow : this.#s.cyan;
    const hang = ' '.repeat(displayWidth(head));
    const [first = '', ...rest] = message.split(/\r?\n/);
    return [`${head}${first}`, ...rest.map((line) => hang + line)].flatMap((line, index) =>
      this.#text(line, color, index === 0 ? hang : ''),
    );
  }

  /** One line of text, indented inside a group and wrapped to the width. */
  #text(line: string, color: (text: string) => string = same, hang = '    '): string[] {
    const gap = this.#afterGroup && !this.#inGroup ? [''] : [];
    this.#afterGroup = this.#inGroup;
    const indented = this.#inGroup ? `  ${line}` : line;
    return [...gap, ...wrap(indented, this.#options.width, { hang }).map((l) => color(l))];
  }
}

export function renderLog(text: string, options: RenderOptions): string {
  const renderer = new LogRenderer(options);
  return renderer.push(text) + renderer.end();
}

// ---------------------------------------------------------------------------------------------
// The job summary

interface Element {
  tag: string;
  attrs: Record<string, string>;
  children: Node[];
}
type Node = Element | string;

const VOID = new Set(['br', 'hr', 'img', 'wbr', 'input']);
const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X'))
      return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return ENTITIES[name.toLowerCase()] ?? entity;
  });
}

const TAG =
  /<!--[\s\S]*?-->|<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*\/?>/g;
const ATTR = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;

/**
 * A forgiving HTML parser for what the summary holds: closes what HTML lets go unclosed (a `<th>`
 * without `</th>`, which the summary writes for an empty header cell, or an open `<li>`).
 */
function parseHtml(markup: string): Element {
  const root: Element = { tag: '#root', attrs: {}, children: [] };
  const stack: Element[] = [root];
  const top = () => stack.at(-1) as Element;
  /** Closes open `tags`, but not past `boundary` (a cell never closes a cell of another table). */
  const close = (tags: string[], boundary: string[]) => {
    for (let i = stack.length - 1; i > 0; i--) {
      const tag = stack[i]?.tag ?? '';
      if (tags.includes(tag)) {
        stack.length = i;
        return;
      }
      if (boundary.includes(tag)) return;
    }
  };
  let at = 0;
  for (const match of markup.matchAll(TAG)) {
    if (match.index > at) top().children.push(decode(markup.slice(at, match.index)));
    at = match.index + match[0].length;
    const [, slash, rawTag, rawAttrs = ''] = match;
    if (!rawTag) continue; // a comment
    const tag = rawTag.toLowerCase();
    if (slash) {
      close([tag], []);
      continue;
    }
    if (tag === 'td' || tag === 'th') close(['td', 'th'], ['tr', 'table']);
    if (tag === 'tr') close(['tr'], ['table']);
    if (tag === 'li') close(['li'], ['ul', 'ol']);
    if (tag === 'p') close(['p'], ['div', 'td', 'th', 'li', 'blockquote', 'details']);
    const attrs: Record<string, string> = {};
    for (const [, name = '', ...values] of rawAttrs.matchAll(ATTR)) {
      attrs[name.toLowerCase()] = decode(values.find((v) => v !== undefined) ?? '');
    }
    const element: Element = { tag, attrs, children: [] };
    top().children.push(element);
    if (!VOID.has(tag)) stack.push(element);
  }
  if (at < markup.length) top().children.push(decode(markup.slice(at)));
  return root;
}

const BLOCKS = new Set([
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'p',
  'div',
  'table',
  'ul',
  'ol',
  'pre',
  'details',
  'blockquote',
  'hr',
]);

function textOf(node: Node): string {
  return typeof node === 'string' ? node : node.children.map(textOf).join('');
}

/** The rendered lines of a summary, block by block; blocks are joined with blank lines. */
class SummaryRenderer {
  readonly #options: RenderOptions;
  readonly #s: Style;
  readonly #width: number;

  constructor(options: RenderOptions) {
    this.#options = options;
    this.#s = style(options.color);
    this.#width = options.width;
  }

  /** Blocks rendered `columns` narrower, to go inside a list item or a quote. */
  #nested(nodes: Node[], columns: number): string[][] {
    return new SummaryRenderer({
      ...this.#options,
      width: Math.max(10, this.#width - columns),
    }).blocks(nodes);
  }

  blocks(nodes: Node[]): string[][] {
    const out: string[][] = [];
    let inline = '';
    const flush = () => {
      out.push(...this.#markdown(inline));
      inline = '';
    };
    for (const node of nodes) {
      if (typeof node !== 'string' && BLOCKS.has(node.tag)) {
        flush();
        out.push(...this.#block(node));
      } else {
        inline += this.#inline(node);
      }
    }
    flush();
    return out.filter((block) => block.length > 0);
  }

  #block(element: Element): string[][] {
    const s = this.#s;
    const { tag } = element;
    const heading = /^h([1-6])$/.exec(tag);
    if (heading) return [this.#heading(this.#inline(element), Number(heading[1]))];
    if (tag === 'table') return [this.#table(element)];
    if (tag === 'ul' || tag === 'ol') return [this.#list(element)];
    if (tag === 'pre')
      return [
        textOf(element)
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => `    ${l}`),
      ];
    if (tag === 'hr') return [[s.dim('─'.repeat(this.#width))]];
    if (tag === 'blockquote') {
      return [this.#nested(element.children, 2).flatMap((b) => b.map((l) => `${s.dim('│')} ${l}`))];
    }
    if (tag === 'details') {
      const [label, ...rest] = element.children;
      const summary = typeof label !== 'string' && label?.tag === 'summary' ? label : undefined;
      const body = this.blocks(summary ? rest : element.children);
      return summary ? [[s.bold(`▶ ${this.#inline(summary).trim()}`)], ...body] : body;
    }
    return this.blocks(element.children);
  }

  #inline(node: Node): string {
    const s = this.#s;
    if (typeof node === 'string') return node;
    const inner = node.children.map((child) => this.#inline(child)).join('');
    switch (node.tag) {
      case 'br':
        return '\n';
      case 'code':
        return s.cyan(inner);
      case 'b':
      case 'strong':
        return s.bold(inner);
      case 'a':
        return node.attrs.href && node.attrs.href !== inner
          ? `${inner} (${node.attrs.href})`
          : inner;
      case 'img':
        return node.attrs.alt ?? '';
      default:
        return inner;
    }
  }

  #heading(text: string, level: number): string[] {
    const title = text.replace(/\s+/g, ' ').trim();
    const rule = (level <= 2 ? '═' : '─').repeat(Math.min(this.#width, displayWidth(title)));
    return [this.#s.bold(title), this.#s.dim(rule)];
  }

  #table(element: Element): string[] {
    const rows: Element[] = [];
    const collect = (el: Element) => {
      for (const child of el.children) {
        if (typeof child === 'string') continue;
        if (child.tag === 'tr') rows.push(child);
        else if (child.tag !== 'table') collect(child); // thead, tbody, tfoot
      }
    };
    collect(element);
    const cellsOf = (row: Element) =>
      row.children.filter((c): c is Element => typeof c !== 'string' && /^t[hd]$/.test(c.tag));
    const header = rows.length > 0 && cellsOf(rows[0] as Element).every((c) => c.tag === 'th');
    const text = rows.map((row) =>
      cellsOf(row).map((cell) =>
        this.#inline(cell)
          .replace(/[ \t]*\n[ \t]*/g, '\n')
          .trim(),
      ),
    );
    return table(text, { width: this.#width, header, style: this.#s });
  }

  #list(element: Element): string[] {
    const items = element.children.filter(
      (c): c is Element => typeof c !== 'string' && c.tag === 'li',
    );
    return items.flatMap((item, index) => {
      const bullet = element.tag === 'ol' ? `${index + 1}. ` : '• ';
      const indent = ' '.repeat(bullet.length);
      const lines = this.#nested(item.children, bullet.length).flat();
      return lines.map((line, k) => `${k === 0 ? bullet : indent}${line}`);
    });
  }

  /** Markdown outside HTML elements: headings, pipe tables, lists, fenced code, paragraphs. */
  #markdown(text: string): string[][] {
    const s = this.#s;
    const out: string[][] = [];
    const lines = text.split('\n');
    const inline = (line: string) =>
      line
        .replace(/`([^`]+)`/g, (_, code: string) => s.cyan(code))
        .replace(/\*\*([^*]+)\*\*/g, (_, b: string) => s.bold(b));
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] ?? '';
      if (!line.trim()) continue;
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        out.push(this.#heading(inline(heading[2] ?? ''), heading[1]?.length ?? 1));
        continue;
      }
      const run = (test: (l: string) => boolean) => {
        const from = i;
        while (i + 1 < lines.length && test(lines[i + 1] ?? '')) i++;
        return lines.slice(from, i + 1);
      };
      if (line.startsWith('```')) {
        const body = run((l) => !l.startsWith('```')).slice(1);
        if (i + 1 < lines.length) i++; // the closing fence
        out.push(body.map((l) => `    ${l}`));
      } else if (/^\s*\|/.test(line)) {
        const rows = run((l) => /^\s*\|/.test(l));
        const rule = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
        const header = rows.length > 1 && rule.test(rows[1] ?? '');
        const cells = rows
          .filter((row) => !rule.test(row))
          .map((row) =>
            row
              .trim()
              .replace(/^\||\|$/g, '')
              .split(/(?<!\\)\|/)
              .map((cell) => inline(cell.trim().replaceAll('\\|', '|'))),
          );
        out.push(table(cells, { width: this.#width, header, style: s }));
      } else if (/^\s*([-*+]|\d+\.)\s+/.test(line)) {
        const items = run((l) => /^\s*([-*+]|\d+\.)\s+/.test(l));
        out.push(
          items.flatMap((item) => {
            const [, bullet = '', rest = ''] = /^\s*([-*+]|\d+\.)\s+(.*)$/.exec(item) ?? [];
            const mark = /\d/.test(bullet) ? `${bullet} ` : '• ';
            return wrap(mark + inline(rest), this.#width, { hang: ' '.repeat(mark.length) });
          }),
        );
      } else {
        const paragraph = run(
          (l) => l.trim() !== '' && !/^(#|```|\s*\||\s*([-*+]|\d+\.)\s)/.test(l),
        );
        out.push(wrap(inline(paragraph.map((l) => l.trim()).join(' ')), this.#width));
      }
    }
    return out;
  }
}

/** The job summary (HTML and Markdown) as plain text: headings, tables, lists and paragraphs. */
export function renderSummary(markup: string, options: RenderOptions): string {
  const blocks = new SummaryRenderer(options).blocks(parseHtml(markup).children);
  return blocks.map((block) => block.join('\n')).join('\n\n') + (blocks.length > 0 ? '\n' : '');
}
