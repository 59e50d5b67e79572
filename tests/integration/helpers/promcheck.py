#!/usr/bin/env python3
"""promcheck.py - strict check of Prometheus text exposition format 0.0.4.

usage: promcheck.py [--require NAME ...] [--value SERIES=N ...] [FILE|-]

Same rules as tests/unit/lib/promcheck.c: TYPE before samples, families
contiguous, valid names, label escapes, no duplicate series, histogram
buckets with increasing le ending in +Inf, non-decreasing counts,
+Inf == _count, _sum present.  --require NAME fails unless a family NAME has
a TYPE line; --value 'SERIES=N' fails unless the sample whose text before the
value equals SERIES has value N.  Prints the sample count; exit 0 ok, 1 bad.
"""
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


class Bad(Exception):
    pass


def parse_value(s):
    if s in ('+Inf', '-Inf', 'NaN'):
        return float(s.replace('Inf', 'inf').replace('NaN', 'nan'))
    if re.search(r'[xXiInN]', s):
        raise Bad('bad value %r' % s)
    try:
        return float(s)
    except ValueError:
        raise Bad('bad value %r' % s)


def parse_labels(line, i):
    labels = []
    while line[i] != '}':
        m = LABEL.match(line, i)
        if not m:
            raise Bad('bad label name')
        name = m.group(0)
        if name.startswith('__'):
            raise Bad('reserved label name')
        i = m.end()
        if line[i:i + 2] != '="':
            raise Bad('expected =" after label')
        i += 2
        val = []
        while True:
            if i >= len(line):
                raise Bad('unterminated label value')
            c = line[i]
            if c == '"':
                break
            if c == '\\':
                if i + 1 >= len(line) or line[i + 1] not in '\\"n':
                    raise Bad('bad escape in label value')
                val.append(line[i:i + 2])
                i += 2
                continue
            if ord(c) < 0x20:
                raise Bad('control character in label value')
            val.append(c)
            i += 1
        i += 1
        if any(n == name for n, _ in labels):
            raise Bad('duplicate label')
        labels.append((name, ''.join(val)))
        if line[i] == ',':
            i += 1
            if line[i] == '}':
                raise Bad('trailing comma')
        elif line[i] != '}':
            raise Bad('expected , or }')
    return labels, i + 1


def check(text):
    if text and not text.endswith('\n'):
        raise Bad('text does not end with a newline')
    fams = {}          # name -> {'type', 'help', 'closed'}
    cur = None
    series = set()
    hist = []          # (base, kind, le, value, lineno) of the current family
    samples = {}

    def finish():
        groups = {}
        for base, kind, le, v, ln in hist:
            groups.setdefault(base, []).append((kind, le, v, ln))
        for base, recs in groups.items():
            bk = [(le, v) for k, le, v, _ in recs if k == 'bucket']
            sums = [v for k, _, v, _ in recs if k == 'sum']
            cnts = [v for k, _, v, _ in recs if k == 'count']
            for (a, av), (b, bv) in zip(bk, bk[1:]):
                if not b > a:
                    raise Bad('histogram {%s}: le not increasing' % base)
                if bv < av:
                    raise Bad('histogram {%s}: bucket count decreases' % base)
            if not bk or not math.isinf(bk[-1][0]):
                raise Bad('histogram {%s}: no +Inf bucket' % base)
            if len(sums) != 1 or len(cnts) != 1:
                raise Bad('histogram {%s}: _sum/_count missing' % base)
            if cnts[0] != bk[-1][1]:
                raise Bad('histogram {%s}: +Inf != _count' % base)
        hist.clear()

    for ln, line in enumerate(text.split('\n')[:-1] if text else [], 1):
        try:
            if '\r' in line or '\0' in line:
                raise Bad('CR or NUL')
            if not line:
                continue
            if line.startswith('# HELP ') or line.startswith('# TYPE '):
                m = NAME.match(line, 7)
                if not m:
                    raise Bad('bad name in HELP/TYPE')
                f = fams.setdefault(m.group(0), {'type': None, 'help': 0,
                                                 'closed': False})
                rest = line[m.end():]
                if line[2] == 'H':
                    if f['help']:
                        raise Bad('second HELP')
                    f['help'] = 1
                    if rest and not rest.startswith(' '):
                        raise Bad('bad HELP line')
                    if re.search(r'\\(?![\\n])', rest):
                        raise Bad('bad escape in HELP')
                else:
                    if f['type']:
                        raise Bad('second TYPE')
                    if f['closed'] or cur == m.group(0):
                        raise Bad('TYPE after samples')
                    if not rest.startswith(' ') or rest[1:] not in TYPES:
                        raise Bad('bad TYPE %r' % rest)
                    f['type'] = rest[1:]
                continue
            if line.startswith('#'):
                continue
            m = NAME.match(line)
            if not m:
                raise Bad('bad metric name')
            name = m.group(0)
            i = m.end()
            labels = []
            if i < len(line) and line[i] == '{':
                labels, i = parse_labels(line, i + 1)
            if line[i:i + 1] != ' ':
                raise Bad('expected a space before the value')
            parts = line[i + 1:].split(' ')
            if len(parts) > 2 or (len(parts) == 2 and
                                  not re.fullmatch(r'-?\d+', parts[1])):
                raise Bad('bad value/timestamp')
            v = parse_value(parts[0])
            kind = 'plain'
            fam = name
            if name in fams and fams[name]['type'] in ('histogram', 'summary'):
                raise Bad('bare sample of a histogram')
            if name not in fams:
                for suf in ('_bucket', '_sum', '_count'):
                    if name.endswith(suf) and name[:-len(suf)] in fams:
                        fam, kind = name[:-len(suf)], suf[1:]
                        break
                if fam not in fams or fams[fam]['type'] not in (
                        'histogram', 'summary') or (
                        kind == 'bucket' and fams[fam]['type'] != 'histogram'):
                    raise Bad('sample %s without a TYPE line' % name)
            if not fams[fam]['type']:
                raise Bad('sample %s without a TYPE line' % name)
            if fam != cur:
                if cur is not None:
                    fams[cur]['closed'] = True
                    finish()
                if fams[fam]['closed']:
                    raise Bad('samples of %s not contiguous' % fam)
                cur = fam
            if fams[fam]['type'] == 'counter' and (math.isnan(v) or v < 0):
                raise Bad('negative or NaN counter')
            ld = dict(labels)
            le = None
            if kind == 'bucket':
                if 'le' not in ld:
                    raise Bad('bucket without le')
                le = parse_value(ld['le'])
                if math.isnan(v) or v < 0 or v != math.floor(v):
                    raise Bad('bad bucket count')
            elif 'le' in ld and fams[fam]['type'] == 'histogram':
                raise Bad('le on a non-bucket sample')
            key = (name, tuple(sorted(labels)))
            if key in series:
                raise Bad('duplicate series')
            series.add(key)
            samples[line[:i]] = v
            if kind != 'plain' and fams[fam]['type'] == 'histogram':
                base = ','.join('%s=%s' % kv for kv in sorted(labels)
                                if kv[0] != 'le')
                hist.append((base, kind, le, v, ln))
        except (Bad, IndexError) as e:
            raise Bad('line %d: %s' % (ln, e if isinstance(e, Bad)
                                         else 'truncated line'))
    finish()
    return fams, samples


def main(argv):
    req, vals, path = [], [], '-'
    i = 0
    while i < len(argv):
        if argv[i] == '--require':
            req.append(argv[i + 1])
            i += 2
        elif argv[i] == '--value':
            vals.append(argv[i + 1])
            i += 2
        else:
            path = argv[i]
            i += 1
    text = sys.stdin.read() if path == '-' else open(path).read()
    try:
        fams, samples = check(text)
    except Bad as e:
        print('promcheck: %s' % e, file=sys.stderr)
        return 1
    rc = 0
    for name in req:
        if name not in fams or not fams[name]['type']:
            print('promcheck: missing family %s' % name, file=sys.stderr)
            rc = 1
    for spec in vals:
        series, want = spec.rsplit('=', 1)
        got = samples.get(series)
        if got is None or got != float(want):
            print('promcheck: %s = %s, want %s' % (series, got, want),
                  file=sys.stderr)
            rc = 1
    if rc == 0:
        print(len(samples))
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
