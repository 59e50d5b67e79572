#!/usr/bin/env python3
"""Regenerate the scanner benchmark corpus (deterministic: fixed seed).

benign.txt   docs and registry URLs, UUIDs, git SHAs, JSON API bodies,
             shell lines, lorem text: traffic that must raise no finding.
             (No random base64 blobs: pipelock's case-insensitive AWS
             pattern "(?i)A3T[A-Z0-9]{16,}" fires by chance in about one
             random 64 KiB blob, in pipelock as here.)
secrets.txt  the same filler with a credential every ~300 bytes, in the
             built-in formats (many fake, checksum-valid where needed).
urls.txt     one benign URL per line, for URL checks per second.
Usage: python3 tests/bench/corpus/gen_corpus.py tests/bench/corpus
"""
import base64, hashlib, json, os, random, sys, uuid

R = random.Random(20261128)
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua ut enim ad minim "
         "veniam quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea "
         "commodo consequat duis aute irure dolor in reprehenderit in voluptate "
         "velit esse cillum dolore eu fugiat nulla pariatur").split()
PY = ["os", "sys", "json", "asyncio", "pathlib", "subprocess", "typing",
      "collections", "itertools", "functools", "re", "datetime", "logging"]
NPM = ["react", "lodash", "express", "typescript", "vite", "eslint", "axios",
       "@types/node", "@babel/core", "webpack", "jest", "zod", "next"]
MDN = ["fetch", "Response", "Request", "URL", "Headers", "WebSocket",
       "AbortController", "TextDecoder", "ReadableStream", "crypto"]
GH = ["torvalds/linux", "python/cpython", "rust-lang/rust", "golang/go",
      "nodejs/node", "microsoft/vscode", "kubernetes/kubernetes"]


def sha():
    return "%040x" % R.getrandbits(160)


def uid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def lorem(n):
    return " ".join(R.choice(LOREM) for _ in range(n))


def url():
    k = R.randrange(10)
    v = "%d.%d.%d" % (R.randrange(5), R.randrange(20), R.randrange(10))
    if k == 0:
        return "https://docs.python.org/3/library/%s.html#%s" % (R.choice(PY), R.choice(PY))
    if k == 1:
        p = R.choice(NPM)
        return "https://registry.npmjs.org/%s/-/%s-%s.tgz" % (p, p.split("/")[-1], v)
    if k == 2:
        return "https://developer.mozilla.org/en-US/docs/Web/API/%s" % R.choice(MDN)
    if k == 3:
        return "https://github.com/%s/commit/%s" % (R.choice(GH), sha())
    if k == 4:
        h = "%064x" % R.getrandbits(256)
        return "https://files.pythonhosted.org/packages/%s/%s/%s/pkg-%s.tar.gz" % (h[:2], h[2:4], h[4:], v)
    if k == 5:
        return "https://pypi.org/simple/%s/" % R.choice(PY + ["requests", "numpy"])
    if k == 6:
        return "https://api.github.com/repos/%s/issues?state=open&per_page=50&page=%d" % (R.choice(GH), R.randrange(9))
    if k == 7:
        return "https://pkg.go.dev/github.com/%s@v%s" % (R.choice(GH), v)
    if k == 8:
        return "https://www.example.com/search?q=%s&lang=en&page=%d" % ("+".join(R.choice(LOREM) for _ in range(3)), R.randrange(9))
    return "https://crates.io/api/v1/crates/serde/%s/download" % v


def json_body():
    d = {"id": uid(), "model": R.choice(["gpt-4o", "claude-sonnet", "llama-3"]),
         "created": 1700000000 + R.randrange(10 ** 7),
         "messages": [{"role": "user", "content": lorem(R.randrange(8, 40))}],
         "temperature": round(R.random(), 2), "max_tokens": R.choice([256, 512, 4096]),
         "metadata": {"commit": sha(), "trace": uid(), "url": url()}}
    return json.dumps(d)


def filler():
    k = R.randrange(7)
    if k == 0:
        return lorem(R.randrange(10, 60)) + "."
    if k == 1:
        return url()
    if k == 2:
        return json_body()
    if k == 3:
        return "commit %s\nAuthor: Dev <dev@example.com>\n    %s" % (sha(), lorem(8))
    if k == 4:
        return "request %s took %d ms (%s)" % (uid(), R.randrange(900), url())
    if k == 5:
        return "export PATH=/usr/local/bin:$PATH; cd /srv/app && make -j4 %s" % R.choice(PY)
    return "| %s | %d | %s |" % (R.choice(PY), R.randrange(10 ** 6), uid())


A62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def rs(n, a=A62):
    return "".join(R.choice(a) for _ in range(n))


def luhn_card():
    d = [4] + [R.randrange(10) for _ in range(14)]
    s = 0
    for i, x in enumerate(reversed(d)):
        x = x * 2 if i % 2 == 0 else x
        s += x - 9 if x > 9 else x
    return "".join(map(str, d + [(10 - s % 10) % 10]))


def secret():
    k = R.randrange(16)
    return [
        lambda: "ANTHROPIC_API_KEY=sk-ant-api03-" + rs(40),
        lambda: '{"token": "ghp_%s"}' % rs(36),
        lambda: "aws_access_key_id = AKIA" + rs(16, A62[:26] + "234567"),
        lambda: "Authorization: Bearer eyJ%s.eyJ%s.%s" % (rs(20), rs(30), rs(43)),
        lambda: "-----BEGIN OPENSSH PRIVATE KEY-----",
        lambda: "xoxb-%d-%s" % (R.randrange(10 ** 11, 10 ** 12), rs(24)),
        lambda: "stripe sk_live_" + rs(24),
        lambda: "card: " + luhn_card(),
        lambda: "iban GB82WEST12345698765432",
        lambda: "glpat-" + rs(20),
        lambda: "hf_" + rs(34),
        lambda: "https://x.test/cb?password=" + rs(12),
        lambda: "DATABASE_PASSWORD=" + rs(16),
        lambda: "AIza" + rs(35),
        lambda: "npm_" + rs(36),
        lambda: "ssn 078-05-1120",
    ][k]()


def build(out, n, dense):
    parts, size = [], 0
    while size < n:
        p = secret() if dense and R.randrange(2) == 0 else filler()
        parts.append(p)
        size += len(p) + 1
    open(out, "w").write("\n".join(parts) + "\n")


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
    build(os.path.join(d, "benign.txt"), 512 * 1024, False)
    build(os.path.join(d, "secrets.txt"), 128 * 1024, True)
    with open(os.path.join(d, "urls.txt"), "w") as f:
        for _ in range(2000):
            f.write(url() + "\n")


main()
