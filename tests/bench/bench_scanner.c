/*
 * bench_scanner.c - scanner throughput, one thread, all default patterns.
 *
 *   build/tests/bench/bench_scanner tests/bench/corpus [ONLY [SECONDS]]
 *
 * ONLY (e.g. "benign check_text", "urls", "pcre2") runs just the lines
 * whose "engine corpus mode" contains it, for perf record and A/B runs;
 * SECONDS (default 1) is the time spent on each line.
 *
 * Reports MB/s for the benign and secret-dense corpora (whole-buffer
 * check_text, streaming in 64 KiB chunks, and line by line as header-sized
 * inputs), URL checks per second over urls.txt, and the same body numbers
 * with the Vectorscan prefilter off (PCRE2 runs every pattern) so the
 * README can say why the two-engine design was kept.  Times are the
 * thread's CPU time.  Not a test: numbers depend on the machine; nothing
 * is asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scanner/dlp.h"
#include "scanner/scanner.h"

#define BENCH_CHUNK		65536

static double bench_seconds = 1.0;
static const char *bench_only;
static const char *bench_engine = "vectorscan";

/* 1 if the line "engine label mode" was asked for. */
static int
bench_wanted(const char *label, const char *mode)
{
	char line[128];

	if (bench_only == NULL)
		return 1;
	snprintf(line, sizeof(line), "%s %s %s", bench_engine, label, mode);
	return strstr(line, bench_only) != NULL;
}

struct corpus {
	char	*buf;
	size_t	 len;
};

static double
bench_now(void)
{
	struct timespec ts;

	/*
	 * CPU time of this thread: "per core" even on a machine shared with
	 * other jobs, where wall time would measure the neighbours too.
	 */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_load(const char *dir, const char *name, struct corpus *c)
{
	char path[4096];
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	c->buf = malloc((size_t)n + 1);
	c->len = fread(c->buf, 1, (size_t)n, f);
	c->buf[c->len] = '\0';
	fclose(f);
	return 0;
}

enum bench_mode {
	BENCH_WHOLE = 0,
	BENCH_STREAM,
	BENCH_LINES,
};

/* One pass over the corpus; returns findings seen (keeps work honest). */
static unsigned
bench_pass(const struct scanner *sc, const struct corpus *c,
    enum bench_mode mode)
{
	struct scan_result r;
	struct scan_stream *st;
	unsigned found = 0;
	size_t i, n;
	char *nl;

	switch (mode) {
	case BENCH_WHOLE:
		scanner_check_text(sc, c->buf, c->len, SCAN_WHERE_BODY, &r);
		return r.nfindings;
	case BENCH_STREAM:
		st = scan_stream_new(sc, SCAN_WHERE_BODY);
		for (i = 0; i < c->len; i += n) {
			n = c->len - i < BENCH_CHUNK ? c->len - i : BENCH_CHUNK;
			if (scan_stream_feed(st, c->buf + i, n, &r) == 1) {
				/* A blocked stream stops: restart to keep going. */
				found += r.nfindings;
				scan_stream_free(st);
				st = scan_stream_new(sc, SCAN_WHERE_BODY);
			}
		}
		scan_stream_finish(st, &r);
		scan_stream_free(st);
		return found + r.nfindings;
	case BENCH_LINES:
		for (i = 0; i < c->len; i = n + 1) {
			nl = memchr(c->buf + i, '\n', c->len - i);
			n = nl ? (size_t)(nl - c->buf) : c->len;
			scanner_check_text(sc, c->buf + i, n - i,
			    SCAN_WHERE_HEADER, &r);
			found += r.nfindings;
		}
		return found;
	}
	return 0;
}

static void
bench_body(const struct scanner *sc, const char *label,
    const struct corpus *c, enum bench_mode mode)
{
	static const char *modes[] = { "check_text", "stream 64K", "per line" };
	double t0, t;
	unsigned long iters = 0, found = 0;

	if (!bench_wanted(label, modes[mode]))
		return;
	t0 = bench_now();

	do {
		found += bench_pass(sc, c, mode);
		iters++;
	} while ((t = bench_now() - t0) < bench_seconds);
	printf("  %-8s %-11s %9.1f MB/s  (%lu passes of %zu bytes, %lu findings/pass)\n",
	    label, modes[mode], (double)c->len * (double)iters / t / 1e6, iters,
	    c->len, found / iters);
}

static void
bench_urls(const struct scanner *sc, const struct corpus *c)
{
	struct scan_result r;
	double t0, t;
	unsigned long checks = 0, blocked = 0;
	size_t i, n;
	char *nl;

	if (!bench_wanted("urls", "check_url"))
		return;
	t0 = bench_now();
	do {
		for (i = 0; i < c->len; i = n + 1) {
			nl = memchr(c->buf + i, '\n', c->len - i);
			n = nl ? (size_t)(nl - c->buf) : c->len;
			if (n == i)
				continue;
			blocked += scanner_check_url(sc, c->buf + i, n - i,
			    &r) == 1;
			checks++;
		}
	} while ((t = bench_now() - t0) < bench_seconds);
	printf("  urls     check_url   %9.0f checks/s (%.2f us each, %lu blocked of %lu)\n",
	    (double)checks / t, t / (double)checks * 1e6, blocked, checks);
}

static void
bench_all(const struct scanner *sc, const struct corpus *benign,
    const struct corpus *dense, const struct corpus *urls, int with_urls)
{
	bench_body(sc, "benign", benign, BENCH_WHOLE);
	bench_body(sc, "benign", benign, BENCH_STREAM);
	bench_body(sc, "benign", benign, BENCH_LINES);
	bench_body(sc, "secrets", dense, BENCH_WHOLE);
	bench_body(sc, "secrets", dense, BENCH_STREAM);
	bench_body(sc, "secrets", dense, BENCH_LINES);
	if (with_urls)
		bench_urls(sc, urls);
}

int
main(int argc, char **argv)
{
	struct corpus benign, dense, urls;
	struct scanner_config cfg;
	struct scanner *sc;
	char err[512];

	if (argc < 2 || argc > 4 ||
	    (argc == 4 && (bench_seconds = atof(argv[3])) <= 0)) {
		fprintf(stderr, "usage: %s CORPUS_DIR [ONLY [SECONDS]]\n",
		    argv[0]);
		return 2;
	}
	if (argc >= 3)
		bench_only = argv[2];
	if (bench_load(argv[1], "benign.txt", &benign) == -1 ||
	    bench_load(argv[1], "secrets.txt", &dense) == -1 ||
	    bench_load(argv[1], "urls.txt", &urls) == -1)
		return 2;
	scanner_config_defaults(&cfg);
	if ((sc = scanner_new(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "scanner_new: %s\n", err);
		return 2;
	}
	printf("scanner throughput, 1 thread, %zu default DLP patterns + "
	    "core floor + BIP-39\n", scanner_pattern_count(sc));
	printf("Vectorscan prefilter + PCRE2 confirm:\n");
	bench_all(sc, &benign, &dense, &urls, 1);
	/* The scanner is immutable for scanning; the bench flips a test knob. */
	dlp_set_prefilter((struct dlp *)scanner_dlp(sc), 0);
	bench_engine = "pcre2";
	printf("PCRE2 only (every pattern run by PCRE2 JIT):\n");
	bench_all(sc, &benign, &dense, &urls, 1);
	scanner_free(sc);
	scanner_config_clear(&cfg);
	free(benign.buf);
	free(dense.buf);
	free(urls.buf);
	return 0;
}
