/*
 * test_hsdb.c - the Vectorscan database compiled in a child process
 * (core/hsdb.c): the image it returns loads and matches like one compiled
 * here, Vectorscan's errors come back naming the same expression with the
 * same message, a scanner built through the hook finds the same secrets
 * as one compiled in-process, with the hook really called, and building it
 * does not page Vectorscan's compiler into this process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <hs.h>

#include "core/hsdb.h"
#include "scanner/scanner.h"
#include "tap.h"

#define AWS_KEY	"AKIAIOSFODNN7EXAMPLE"

static int hook_calls;

static int
counting_hook(const char *const *exprs, const unsigned *flags,
    const unsigned *ids, unsigned n, char **db, size_t *dblen, int *bad,
    char *err, size_t errlen)
{
	hook_calls++;
	return hsdb_compile(exprs, flags, ids, n, db, dblen, bad, err, errlen);
}

static int
on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned fl, void *ctx)
{
	(void)from;
	(void)to;
	(void)fl;
	*(unsigned *)ctx |= 1u << id;
	return 0;
}

/* Which ids of db match text (bit per id); -1 on a Vectorscan error. */
static long
scan_ids(const char *img, size_t len, const char *text)
{
	hs_database_t *db = NULL;
	hs_scratch_t *s = NULL;
	unsigned hits = 0;
	long ret = -1;

	if (hs_deserialize_database(img, len, &db) != HS_SUCCESS ||
	    hs_alloc_scratch(db, &s) != HS_SUCCESS)
		goto cleanup;
	if (hs_scan(db, text, (unsigned)strlen(text), 0, s, on_match,
	    &hits) != HS_SUCCESS)
		goto cleanup;
	ret = hits;
cleanup:
	hs_free_scratch(s);
	hs_free_database(db);
	return ret;
}

static void
test_compile(void)
{
	const char *exprs[] = { "foo[0-9]+", "bar" };
	unsigned flags[] = { HS_FLAG_SINGLEMATCH, HS_FLAG_SINGLEMATCH };
	unsigned ids[] = { 3, 5 };
	char *db = NULL, err[256] = "";
	size_t len = 0;
	int bad = 7, status;

	is_int(hsdb_compile(exprs, flags, ids, 2, &db, &len, &bad, err,
	    sizeof(err)), 0, "child compile succeeds");
	ok(db != NULL && len > 0, "an image came back (%zu bytes)", len);
	is_int((int)scan_ids(db, len, "xx foo42 yy"), 1 << 3,
	    "image matches id 3 only");
	is_int((int)scan_ids(db, len, "bar foo1"), (1 << 3) | (1 << 5),
	    "image matches ids 3 and 5");
	is_int((int)scan_ids(db, len, "nothing"), 0, "image: no false hit");
	free(db);
	/* no child left behind */
	ok(waitpid(-1, &status, WNOHANG) == -1, "the child was reaped");
}

static void
test_errors(void)
{
	const char *exprs[] = { "ok", "a(b", "c" };
	unsigned flags[] = { 0, 0, 0 };
	unsigned ids[] = { 0, 1, 2 };
	char *db = NULL, err[256] = "", err2[256] = "";
	size_t len = 0;
	int bad = -5, bad2 = -5;

	is_int(hsdb_compile(exprs, flags, ids, 3, &db, &len, &bad, err,
	    sizeof(err)), -1, "bad expression: child compile fails");
	is_int(bad, 1, "the rejected expression is named (index 1)");
	ok(db == NULL, "no image on error");
	is_int(hsdb_compile_here(exprs, flags, ids, 3, &db, &len, &bad2, err2,
	    sizeof(err2)), -1, "in-process compile fails too");
	is_int(bad2, bad, "same expression index in-process");
	is_str(err, err2, "same message as in-process");
	ok(err[0] != '\0', "message: %s", err);
}

static int
secret_blocked(const struct scanner *sc)
{
	struct scan_result res;
	const char *t = "aws_access_key_id = " AWS_KEY;

	return scanner_check_text(sc, t, strlen(t), SCAN_WHERE_BODY, &res);
}

/* Resident KiB of this process's libhs mappings (/proc/self/smaps). */
static long
libhs_rss_kb(void)
{
	char line[512];
	unsigned long lo, hi;
	long kb, sum = 0;
	int in_hs = 0;
	FILE *f;

	if ((f = fopen("/proc/self/smaps", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* a mapping's header line: "lo-hi perms offset dev inode path" */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in_hs = strstr(line, "/libhs") != NULL;
		else if (in_hs && sscanf(line, "Rss: %ld kB", &kb) == 1)
			sum += kb;
	}
	fclose(f);
	return sum;
}

/*
 * The point of the child: building a scanner through it must not page the
 * compiler into this process; compiling here does (the control that the
 * measurement can see it).  Runs first, before anything compiles here.
 */
static void
test_rss(void)
{
	struct scanner_config cfg;
	struct scanner *sc;
	char err[256];
	long r0, r1, r2;

	scanner_config_defaults(&cfg);
	r0 = libhs_rss_kb();
	cfg.hs_compile = hsdb_compile;
	sc = scanner_new(&cfg, err, sizeof(err));
	r1 = libhs_rss_kb();
	ok(sc != NULL && r0 >= 0 && r1 - r0 < 1024,
	    "through the child: libhs RSS %ld -> %ld KiB (< 1 MiB more)",
	    r0, r1);
	scanner_free(sc);
	cfg.hs_compile = NULL;
	sc = scanner_new(&cfg, err, sizeof(err));
	r2 = libhs_rss_kb();
	ok(sc != NULL && r2 - r1 > 1024,
	    "in-process: libhs RSS %ld -> %ld KiB (the compiler pages in)",
	    r1, r2);
	scanner_free(sc);
	scanner_config_clear(&cfg);
}

static void
test_scanner_hook(void)
{
	struct scanner_config cfg;
	struct scanner *a, *b;
	char err[256];

	scanner_config_defaults(&cfg);
	a = scanner_new(&cfg, err, sizeof(err));
	ok(a != NULL, "in-process scanner builds");
	cfg.hs_compile = counting_hook;
	b = scanner_new(&cfg, err, sizeof(err));
	ok(b != NULL, "scanner through the child builds");
	ok(hook_calls >= 1, "the compile hook was called (%d)", hook_calls);
	if (a != NULL && b != NULL) {
		is_int((int)scanner_pattern_count(b),
		    (int)scanner_pattern_count(a), "same pattern count");
		is_int(secret_blocked(a), 1, "in-process: AWS key blocked");
		is_int(secret_blocked(b), 1, "child-compiled: AWS key blocked");
	}
	scanner_free(a);
	scanner_free(b);
	cfg.hs_compile = NULL;
	scanner_config_clear(&cfg);
}

int
main(void)
{
	test_rss();
	test_compile();
	test_errors();
	test_scanner_hook();
	return tap_done();
}
