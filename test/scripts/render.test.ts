import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as core from '@actions/core';
import {
  displayWidth,
  LogRenderer,
  renderLog,
  renderSummary,
  stripAnsi,
  table,
  wrap,
} from '../../scripts/render.ts';

const plain = { color: false, width: 80 };
const ESCAPE = '\u001b[';

describe('renderLog', () => {
  const log = [
    '::group::Inputs',
    'Release my-milvus in namespace milvus',
    '::debug::isExplicit: 3.18.0',
    '::endgroup::',
    '::group::Cluster',
    '::add-mask::0123456789abcdef',
    '::add-path::/opt/helm',
    '[command]/usr/bin/tar xz -f helm.tar.gz',
    '::warning::pinning pulsarv3.enabled=false%0Ato keep the queue (100%25 sure)',
    '::endgroup::',
    'after the groups',
    '',
    '',
    '',
    '::set-output name=upgraded::true',
    '::error title=Hop 2,file=values.yaml,line=3::failed',
  ].join('\n');

  it('turns groups into headed, indented sections and hides runner-only commands', () => {
    assert.equal(
      renderLog(log, plain),
      [
        '▶ Inputs',
        '  Release my-milvus in namespace milvus',
        '',
        '▶ Cluster',
        '  $ /usr/bin/tar xz -f helm.tar.gz',
        '  ⚠ Warning: pinning pulsarv3.enabled=false',
        '             to keep the queue (100% sure)',
        '',
        'after the groups',
        '',
        '✖ Error: Hop 2 (values.yaml:3): failed',
        '',
      ].join('\n'),
    );
  });

  it('colours warnings and headings only when asked to', () => {
    assert.ok(!renderLog(log, plain).includes(ESCAPE));
    const colored = renderLog(log, { color: true, width: 80 });
    assert.ok(colored.includes(`${ESCAPE}33mWarning:`), 'warnings are yellow');
    assert.ok(colored.includes(`${ESCAPE}1m▶`), 'headings are bold');
    assert.equal(stripAnsi(colored), renderLog(log, plain));
  });

  it('renders the same however the output is cut into chunks', () => {
    const renderer = new LogRenderer(plain);
    let out = '';
    for (let i = 0; i < log.length; i += 7) out += renderer.push(log.slice(i, i + 7));
    out += renderer.end();
    assert.equal(out, renderLog(log, plain));
  });

  it('wraps long lines under their indentation, without cutting words', () => {
    const url = `https://example.com/${'x'.repeat(70)}`;
    const out = renderLog(`::group::Helm\ndownloading the archive from ${url}\n`, {
      color: false,
      width: 40,
    });
    assert.deepEqual(out.split('\n').slice(1, -1), [
      '  downloading the archive from',
      `      ${url}`,
    ]);
  });

  it('prints lines between ::stop-commands:: and its token as they are', () => {
    const out = renderLog(
      '::stop-commands::tok\n::warning::literal\n::tok::\n::debug::hidden',
      plain,
    );
    assert.equal(out, '::warning::literal\n');
  });
});

describe('renderSummary', () => {
  /** What @actions/core's summary writes, without writing it anywhere. */
  function summary(build: (s: typeof core.summary) => void): string {
    core.summary.emptyBuffer();
    build(core.summary);
    const html = core.summary.stringify();
    core.summary.emptyBuffer();
    return html;
  }

  it('renders headings, raw Markdown, tables (an empty header cell too) and lists', () => {
    const html = summary((s) =>
      s
        .addHeading('✅ my-milvus upgraded v2.5.4 → v2.6.4', 2)
        .addRaw('Release `my-milvus` in namespace `milvus`.', true)
        .addTable([
          [
            { data: '', header: true },
            { data: 'Before', header: true },
            { data: 'After', header: true },
          ],
          ['Milvus', 'v2.5.4', 'v2.6.4'],
          ['Message queue', 'pulsar', 'pulsar'],
        ])
        .addHeading('Notes', 3)
        .addList(['pinning pulsar.enabled=true', 'pinning pulsarv3.enabled=false']),
    );
    assert.equal(
      renderSummary(html, plain),
      [
        '✅ my-milvus upgraded v2.5.4 → v2.6.4',
        '═════════════════════════════════════',
        '',
        'Release my-milvus in namespace milvus.',
        '',
        '┌───────────────┬────────┬────────┐',
        '│               │ Before │ After  │',
        '├───────────────┼────────┼────────┤',
        '│ Milvus        │ v2.5.4 │ v2.6.4 │',
        '│ Message queue │ pulsar │ pulsar │',
        '└───────────────┴────────┴────────┘',
        '',
        'Notes',
        '─────',
        '',
        '• pinning pulsar.enabled=true',
        '• pinning pulsarv3.enabled=false',
        '',
      ].join('\n'),
    );
  });

  it('renders code blocks, details, links, breaks and entities', () => {
    const html = summary((s) =>
      s
        .addCodeBlock('helm upgrade my-milvus\n  --wait', 'sh')
        .addDetails('Plan', 'hop 1 &amp; hop 2')
        .addLink('the docs', 'https://milvus.io/docs')
        .addSeparator()
        .addQuote('kept'),
    );
    const out = renderSummary(html, { color: false, width: 20 });
    assert.equal(
      out,
      [
        '    helm upgrade my-milvus',
        '      --wait',
        '',
        '▶ Plan',
        '',
        'hop 1 & hop 2',
        '',
        'the docs',
        '(https://milvus.io/docs)',
        '',
        '─'.repeat(20),
        '',
        '│ kept',
        '',
      ].join('\n'),
    );
  });

  it('renders Markdown headings, pipe tables and lists', () => {
    const markdown = [
      '## Result',
      '',
      '| Hop | Chart |',
      '|---|---|',
      '| 1 | 4.2.58 |',
      '| 2 | 5.0.0 |',
      '',
      '- **kept** the queue',
      '1. first',
    ].join('\n');
    assert.equal(
      renderSummary(markdown, plain),
      [
        'Result',
        '══════',
        '',
        '┌─────┬────────┐',
        '│ Hop │ Chart  │',
        '├─────┼────────┤',
        '│ 1   │ 4.2.58 │',
        '│ 2   │ 5.0.0  │',
        '└─────┴────────┘',
        '',
        '• kept the queue',
        '1. first',
        '',
      ].join('\n'),
    );
  });
});

describe('table', () => {
  it('wraps the widest columns so that the table fits, and keeps the borders aligned', () => {
    const components = 'datacoord, datanode, indexcoord, indexnode, proxy, querycoord, querynode';
    const lines = table(
      [
        ['', 'Before', 'After'],
        ['Components', components, 'datanode, mixcoord, proxy, querynode, streamingnode'],
        ['Status ✅', 'deployed', 'deployed'],
      ],
      { width: 60 },
    );
    const widths = new Set(lines.map(displayWidth));
    assert.deepEqual([...widths], [60], lines.join('\n'));
    assert.ok(lines.some((line) => line.includes('│ Status ✅ ')));
    assert.ok(lines.filter((line) => line.includes('├')).length >= 2, 'wrapped rows are ruled');
  });

  it('cuts words only when a column cannot hold them', () => {
    const lines = table([['x'.repeat(30)]], { width: 20, header: false });
    assert.ok(lines.every((line) => displayWidth(line) === 20));
  });
});

describe('wrap and displayWidth', () => {
  it('counts emoji as two columns and ANSI escapes as none', () => {
    assert.equal(displayWidth('✅ ok'), 5);
    assert.equal(displayWidth(`${ESCAPE}1mok${ESCAPE}22m`), 2);
  });

  it('keeps the indentation and hangs continuation lines', () => {
    assert.deepEqual(wrap('  one two three four', 12, { hang: '  ' }), [
      '  one two',
      '    three',
      '    four',
    ]);
  });
});
