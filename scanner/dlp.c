/*
 * dlp.c - the compiled DLP set: pattern matching, known secrets, BIP-39
 * seed phrases and the text pipeline (normalise, decode layers, rescan).
 *
 * Candidates first, confirmation second.  Every pattern and every encoded
 * form of every known secret go into ONE Vectorscan database that scans the
 * input once in linear time.  Patterns are compiled there in prefilter mode
 * (a superset of the regex, so constructs Vectorscan lacks still compile);
 * only patterns it reports are then run by PCRE2 (JIT, compiled once) to
 * confirm and extract the match for validators and redaction.  The five
 * built-in formats made only of character classes (cards, SSNs, IBANs,
 * WIF keys, Discord tokens) and the BIP-39 seed shape cost Vectorscan ~15x
 * more than the other 43 patterns together, so a hand-written pass over
 * word runs (dlp_shapes) finds where they can be and PCRE2 confirms only
 * there.  That pass and the encoded-run finder (dlp_runs) run only around
 * the bytes a SIMD trigger pass marks (see "Triggers" below), so benign
 * traffic costs Vectorscan, the trigger pass and little else; tests check
 * that this finds exactly what PCRE2 alone finds (dlp_set_prefilter(0)),
 * which still scans every byte.
 *
 * PCRE2 runs in byte mode (no PCRE2_UTF): inputs are arbitrary bytes, the
 * built-in formats are ASCII, and invalid UTF-8 must not turn into a match
 * error.  RE2's "$" (end of text only) is PCRE2_DOLLAR_ENDONLY.  PCRE2 is
 * bounded by a match limit and a small JIT stack: a pattern that hits
 * either is a blocking finding "DLP scan limit hit: <name>" (fail closed).
 *
 * Per-thread scratch (Vectorscan scratch, PCRE2 match data, JIT stack) is
 * thread-local and grown on demand, so one struct dlp serves any number of
 * threads and two of them (hot reload) coexist.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <hs.h>
#include <pcre2.h>

#include "scanner/bip39.h"
#include "scanner/dlp.h"
#include "scanner/dlp_patterns.h"
#include "scanner/domain.h"
#include "scanner/normalize.h"
#include "scanner/validate.h"

#define DLP_MATCH_LIMIT		1000000	/* PCRE2 backtracking budget */
#define DLP_JIT_STACK_MIN	(32 * 1024)
#define DLP_JIT_STACK_MAX	(256 * 1024)
#define DLP_DEPTH_MAX		3	/* nested decode layers */
#define DLP_RUN_MIN		16	/* shortest encoded run decoded */
#define DLP_RUN_MAX		(1 << 20)	/* longest run decoded */
#define DLP_SECRET_HITS		16	/* secret hits kept per pass */
#define DLP_PRINTABLE_PCT	90	/* decoded layer must be this printable */
#define DLP_REGIONS		65536	/* hit regions kept per pattern */
#define DLP_SEED_BACK		4096	/* seed token start searched this far back */
#define DLP_SEED_DIRECT		1024	/* seed scan without a prefilter pass */
#define DLP_NORM_MIN		(64 * 1024)	/* per-thread normalise buffer */
#define DLP_NORM_KEEP		(4 * 1024 * 1024)	/* larger ones are freed */
#define DLP_RSLOT_NONE		DLP_DEPTH_MAX	/* run triggers not kept */

enum dlp_label {
	DLP_LABEL_DLP = 0,
	DLP_LABEL_CORE,
};

struct dlp_pat {
	char			*name;
	char			*severity;
	char			*regex;		/* as compiled, with (?i) */
	enum dlp_shape		 shape;		/* built-in found by dlp_shapes() */
	size_t			 maxw;		/* longest match, 0 unbounded */
	enum scan_validator	 validator;
	struct strlist		 exempt;
	int			 warn_only;
	enum dlp_label		 label;
	int			 always;	/* not in the Vectorscan db */
	int			 shadowed;	/* same as a core pattern */
	pcre2_code		*re;
};

struct dlp_form {
	char		*bytes;
	size_t		 len;
	const char	*reason;	/* static */
};

struct dlp {
	struct dlp_pat	*pats;		/* core floor first */
	size_t		 npats;
	size_t		 ncore;
	struct dlp_form	*forms;
	size_t		 nforms;
	hs_database_t	*db;
	unsigned	 form_base;	/* db id of forms[0] */
	int		 seed_enabled;
	int		 seed_min;
	int		 seed_verify;
	int		 prefilter;	/* 0: PCRE2 on every pattern */
	ssize_t		 shape_idx[DLP_SHAPE_COUNT];	/* pattern or -1 */
	uint64_t	*always_bits;	/* patterns PCRE2 runs on every input */
	uint64_t	 gen;		/* for thread-local scratch */
};

/* What one pass looks for. */
#define DLP_WANT_PATTERNS	0x1
#define DLP_WANT_SECRETS	0x2
#define DLP_WANT_SEED		0x4
#define DLP_WANT_ALL		0x7

/* How a scanned buffer's offsets map back to the caller's input. */
struct dlp_map {
	const char	*src;		/* normalised from src when not NULL */
	size_t		 srclen;
	size_t		 base;		/* added to every offset */
	int		 fixed;		/* decoded layer: every offset = base */
	int		 keep_ws;	/* src went through norm_for_text() */
};

/*
 * Where the shape pass saw a pattern (or a seed phrase) possible: merged
 * [a, b) ranges of match starts.  Overflow: confirm everywhere.
 */
struct dlp_regions {
	unsigned	n;
	unsigned	cap;	/* grows per thread, up to DLP_REGIONS */
	int		full;
	size_t		*a;
	size_t		*b;
};

struct dlp_tls {
	hs_scratch_t		*scratch;
	uint64_t		 scratch_gen;
	pcre2_match_context	*mctx;
	pcre2_jit_stack		*jit;
	pcre2_match_data	*md;
	uint64_t		*bits;
	size_t			 nbits;
	struct dlp_regions	*reg;		/* npats + 1 (seed last) */
	size_t			 nreg;
	char			*norm;		/* dlp_scan_text's copy */
	size_t			 normcap;
	uint64_t		*tshape;	/* shape, seed triggers, one pass */
	size_t			 ntshape;
	/* Run triggers per text depth, kept while deeper layers scan. */
	uint64_t		*truns[DLP_RSLOT_NONE + 1];
	size_t			 ntruns[DLP_RSLOT_NONE + 1];
	/*
	 * dlp_scan_text() ran the trigger pass of its input `pre' (into slot
	 * 0 and tshape) to learn whether it is plain text; the first pass
	 * over it takes those bitmaps instead of running it again.
	 */
	const char		*pre;
	size_t			 prelen;
	int			 prepct;	/* pre has a '%' */
};

static _Thread_local struct dlp_tls dlp_tls;
static atomic_uint_fast64_t dlp_gen_next = 1;
static pthread_key_t dlp_tls_key;
static pthread_once_t dlp_tls_once = PTHREAD_ONCE_INIT;

/* Thread exit: free that thread's scratch (the key only carries a flag). */
static void
dlp_tls_free(void *unused)
{
	struct dlp_tls *t = &dlp_tls;
	size_t i;

	hs_free_scratch(t->scratch);
	pcre2_match_data_free(t->md);
	pcre2_match_context_free(t->mctx);
	pcre2_jit_stack_free(t->jit);
	free(t->bits);
	for (i = 0; i < t->nreg; i++) {
		free(t->reg[i].a);
		free(t->reg[i].b);
	}
	free(t->reg);
	free(t->norm);
	free(t->tshape);
	for (i = 0; i <= DLP_RSLOT_NONE; i++)
		free(t->truns[i]);
	memset(t, 0, sizeof(*t));
}

static void
dlp_tls_key_init(void)
{
	(void)pthread_key_create(&dlp_tls_key, dlp_tls_free);
}

/* Byte-class tables, filled once before the first struct dlp exists. */
static pthread_once_t dlp_tables_once = PTHREAD_ONCE_INIT;
static void dlp_scls_init(void);
static void dlp_class_init(void);
static void dlp_ktab_init(void);

static void
dlp_tables_init(void)
{
	dlp_scls_init();
	dlp_class_init();
	dlp_ktab_init();
}

static int dlp_text(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, const struct dlp_map *map,
    int depth, struct scan_result *res);

static char *
dlp_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
dlp_pat_clear(struct dlp_pat *p)
{
	size_t i;

	free(p->name);
	free(p->severity);
	free(p->regex);
	for (i = 0; i < p->exempt.n; i++)
		free(p->exempt.v[i]);
	free(p->exempt.v);
	pcre2_code_free(p->re);
	memset(p, 0, sizeof(*p));
}

void
dlp_free(struct dlp *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->npats; i++)
		dlp_pat_clear(&d->pats[i]);
	free(d->pats);
	for (i = 0; i < d->nforms; i++) {
		if (d->forms[i].bytes)
			explicit_bzero(d->forms[i].bytes, d->forms[i].len);
		free(d->forms[i].bytes);
	}
	free(d->forms);
	free(d->always_bits);
	hs_free_database(d->db);
	free(d);
}

/* pipelock prepends (?i) unless the regex already starts with it. */
static char *
dlp_regex_ci(const char *re, size_t *added)
{
	char *out;

	*added = 0;
	if (strncmp(re, "(?i)", 4) == 0)
		return strdup(re);
	if (asprintf(&out, "(?i)%s", re) == -1)
		return NULL;
	*added = 4;
	return out;
}

static int
dlp_pat_compile(struct dlp_pat *p, const char *regex, char *err,
    size_t errlen)
{
	PCRE2_UCHAR msg[128];
	PCRE2_SIZE eoff;
	size_t added;
	int ecode;

	if ((p->regex = dlp_regex_ci(regex, &added)) == NULL) {
		snprintf(err, errlen, "dlp pattern '%s': out of memory",
		    p->name);
		return -1;
	}
	p->re = pcre2_compile((PCRE2_SPTR)p->regex, PCRE2_ZERO_TERMINATED,
	    PCRE2_DOLLAR_ENDONLY, &ecode, &eoff, NULL);
	if (p->re == NULL) {
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		snprintf(err, errlen,
		    "dlp pattern '%s': PCRE2 error at offset %zu: %s", p->name,
		    eoff >= added ? (size_t)eoff - added : 0, (char *)msg);
		return -1;
	}
	/* No JIT (e.g. hardened kernel): the interpreter is the fallback. */
	(void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
	return 0;
}

static int
dlp_pat_set(struct dlp_pat *p, const char *name, const char *regex,
    const char *severity, enum scan_validator v, enum dlp_label label,
    char *err, size_t errlen)
{
	p->name = dlp_strdup(name);
	p->severity = dlp_strdup(severity ? severity : "high");
	p->validator = v;
	p->label = label;
	if (p->name == NULL || p->severity == NULL) {
		snprintf(err, errlen, "dlp: out of memory");
		return -1;
	}
	return dlp_pat_compile(p, regex, err, errlen);
}

static int
dlp_copy_list(struct strlist *dst, const struct strlist *src)
{
	size_t i;

	if (src->n == 0)
		return 0;
	if ((dst->v = calloc(src->n, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < src->n; i++) {
		if ((dst->v[i] = strdup(src->v[i])) == NULL)
			return -1;
		dst->n++;
	}
	return 0;
}

static const struct scanner_pattern *
dlp_user_find(const struct scanner_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->npatterns; i++)
		if (cfg->patterns[i].name &&
		    strcmp(cfg->patterns[i].name, name) == 0)
			return &cfg->patterns[i];
	return NULL;
}

static int
dlp_pat_set_user(struct dlp_pat *p, const struct scanner_pattern *up,
    char *err, size_t errlen)
{
	if (up->name == NULL || up->regex == NULL) {
		snprintf(err, errlen, "dlp pattern '%s': name and regex required",
		    up->name ? up->name : "");
		return -1;
	}
	if (dlp_pat_set(p, up->name, up->regex, up->severity, up->validator,
	    DLP_LABEL_DLP, err, errlen) == -1)
		return -1;
	p->warn_only = up->warn_only;
	if (dlp_copy_list(&p->exempt, &up->exempt_domains) == -1) {
		snprintf(err, errlen, "dlp: out of memory");
		return -1;
	}
	return 0;
}

/*
 * Core floor, then (include_defaults) the built-ins with same-name user
 * patterns replacing them in place, then the remaining user patterns.
 */
static int
dlp_build_patterns(struct dlp *d, const struct scanner_config *cfg,
    char *err, size_t errlen)
{
	const struct scanner_pattern *up;
	struct dlp_pat *p;
	size_t i, j, max;

	max = dlp_ncore + dlp_nbuiltins + cfg->npatterns;
	if ((d->pats = calloc(max, sizeof(*d->pats))) == NULL) {
		snprintf(err, errlen, "dlp: out of memory");
		return -1;
	}
	for (i = 0; i < dlp_ncore; i++) {
		p = &d->pats[d->npats++];
		if (dlp_pat_set(p, dlp_core[i].name, dlp_core[i].regex,
		    dlp_core[i].severity, dlp_core[i].validator, DLP_LABEL_CORE,
		    err, errlen) == -1)
			return -1;
		p->maxw = dlp_core[i].maxw;
	}
	d->ncore = d->npats;
	if (cfg->dlp_include_defaults) {
		for (i = 0; i < dlp_nbuiltins; i++) {
			p = &d->pats[d->npats++];
			up = dlp_user_find(cfg, dlp_builtins[i].name);
			if (up != NULL) {
				if (dlp_pat_set_user(p, up, err, errlen) == -1)
					return -1;
				continue;
			}
			if (dlp_pat_set(p, dlp_builtins[i].name,
			    dlp_builtins[i].regex, dlp_builtins[i].severity,
			    dlp_builtins[i].validator, DLP_LABEL_DLP, err,
			    errlen) == -1)
				return -1;
			p->shape = dlp_builtins[i].shape;
			p->maxw = dlp_builtins[i].maxw;
		}
	}
	for (i = 0; i < cfg->npatterns; i++) {
		up = &cfg->patterns[i];
		if (cfg->dlp_include_defaults && up->name != NULL) {
			for (j = 0; j < dlp_nbuiltins; j++)
				if (strcmp(dlp_builtins[j].name, up->name) == 0)
					break;
			if (j < dlp_nbuiltins)
				continue;	/* replaced a built-in above */
		}
		/* A later same-name user pattern wins over an earlier one. */
		if (up->name != NULL && dlp_user_find(cfg, up->name) != up)
			continue;
		p = &d->pats[d->npats++];
		if (dlp_pat_set_user(p, up, err, errlen) == -1)
			return -1;
	}
	/* A configurable copy of a core pattern would only report twice. */
	for (i = d->ncore; i < d->npats; i++)
		for (j = 0; j < d->ncore; j++)
			if (strcmp(d->pats[i].name, d->pats[j].name) == 0 &&
			    strcmp(d->pats[i].regex, d->pats[j].regex) == 0 &&
			    !d->pats[i].warn_only && d->pats[i].exempt.n == 0)
				d->pats[i].shadowed = 1;
	return 0;
}

static int
dlp_form_add(struct dlp *d, size_t *cap, char *bytes, size_t len,
    const char *reason)
{
	struct dlp_form *nf;
	size_t i;

	if (bytes == NULL)
		return -1;
	for (i = 0; i < d->nforms; i++)
		if (d->forms[i].len == len &&
		    memcmp(d->forms[i].bytes, bytes, len) == 0) {
			free(bytes);
			return 0;
		}
	if (d->nforms == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		if ((nf = realloc(d->forms, *cap * sizeof(*nf))) == NULL) {
			free(bytes);
			return -1;
		}
		d->forms = nf;
	}
	d->forms[d->nforms].bytes = bytes;
	d->forms[d->nforms].len = len;
	d->forms[d->nforms].reason = reason;
	d->nforms++;
	return 0;
}

static char *
dlp_enc_b64(const unsigned char *s, size_t len, int url, int pad, size_t *out)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char urla[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *a = url ? urla : std;
	char *o = malloc(len / 3 * 4 + 5);
	size_t i, n = 0;
	uint32_t v;

	if (o == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		o[n++] = a[v >> 18 & 63];
		o[n++] = a[v >> 12 & 63];
		o[n++] = a[v >> 6 & 63];
		o[n++] = a[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)s[i] << 16;
		o[n++] = a[v >> 18 & 63];
		o[n++] = a[v >> 12 & 63];
		if (pad) {
			o[n++] = '=';
			o[n++] = '=';
		}
	} else if (len - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		o[n++] = a[v >> 18 & 63];
		o[n++] = a[v >> 12 & 63];
		o[n++] = a[v >> 6 & 63];
		if (pad)
			o[n++] = '=';
	}
	*out = n;
	return o;
}

static char *
dlp_enc_b32(const unsigned char *s, size_t len, int pad, size_t *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char *o = malloc(len * 8 / 5 + 16);
	size_t i, n = 0;
	uint64_t acc = 0;
	int bits = 0;

	if (o == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		acc = acc << 8 | s[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			o[n++] = a[acc >> bits & 31];
		}
	}
	if (bits > 0)
		o[n++] = a[acc << (5 - bits) & 31];
	while (pad && n % 8)
		o[n++] = '=';
	*out = n;
	return o;
}

/* Hex with an optional per-byte prefix and separator ("\x", "0x", ":"). */
static char *
dlp_enc_hex(const unsigned char *s, size_t len, const char *prefix,
    const char *sep, const char *digits, size_t *out)
{
	size_t pl = strlen(prefix), sl = strlen(sep), i, n = 0;
	char *o = malloc(len * (2 + pl + sl) + 1);

	if (o == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (i && sl) {
			memcpy(o + n, sep, sl);
			n += sl;
		}
		memcpy(o + n, prefix, pl);
		n += pl;
		o[n++] = digits[s[i] >> 4];
		o[n++] = digits[s[i] & 15];
	}
	*out = n;
	return o;
}

#define R_LIT	"known secret leak detected"
#define R_B64	"known secret leak detected (base64-encoded)"
#define R_HEX	"known secret leak detected (hex-encoded)"
#define R_B32	"known secret leak detected (base32-encoded)"
#define R_PCT	"known secret leak detected (url-encoded)"

/* Every encoded form of every known secret, matched as literals. */
static int
dlp_build_secrets(struct dlp *d, const struct scanner_config *cfg)
{
	static const char lower[] = "0123456789abcdef";
	static const char upper[] = "0123456789ABCDEF";
	static const char *const seps[][2] = {
		{ "", "" }, { "", ":" }, { "", " " }, { "", "-" }, { "", "," },
		{ "\\x", "" }, { "0x", "" }, { "0x", " " },
	};
	const unsigned char *s;
	size_t cap = 0, i, k, len, n;
	int url, pad;

	for (i = 0; i < cfg->known_secrets.n; i++) {
		s = (const unsigned char *)cfg->known_secrets.v[i];
		len = strlen((const char *)s);
		if (len == 0 || len < cfg->min_secret_length)
			continue;
		if (dlp_form_add(d, &cap, strndup((const char *)s, len), len,
		    R_LIT) == -1)
			return -1;
		for (url = 0; url <= 1; url++)
			for (pad = 0; pad <= 1; pad++) {
				char *e = dlp_enc_b64(s, len, url, pad, &n);
				if (dlp_form_add(d, &cap, e, n, R_B64) == -1)
					return -1;
			}
		for (k = 0; k < sizeof(seps) / sizeof(seps[0]); k++) {
			char *e = dlp_enc_hex(s, len, seps[k][0], seps[k][1],
			    lower, &n);
			if (dlp_form_add(d, &cap, e, n, R_HEX) == -1)
				return -1;
			e = dlp_enc_hex(s, len, seps[k][0], seps[k][1], upper,
			    &n);
			if (dlp_form_add(d, &cap, e, n, R_HEX) == -1)
				return -1;
		}
		for (pad = 0; pad <= 1; pad++) {
			char *e = dlp_enc_b32(s, len, pad, &n);
			if (dlp_form_add(d, &cap, e, n, R_B32) == -1)
				return -1;
		}
		for (k = 0; k < 2; k++) {
			char *e = dlp_enc_hex(s, len, "%", "",
			    k ? upper : lower, &n);
			if (dlp_form_add(d, &cap, e, n, R_PCT) == -1)
				return -1;
		}
	}
	return 0;
}

/* A literal as a Vectorscan regex: every byte escaped. */
static char *
dlp_hs_literal(const char *s, size_t len)
{
	char *o = malloc(len * 4 + 1);
	size_t i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		sprintf(o + i * 4, "\\x%02x", (unsigned char)s[i]);
	o[len * 4] = '\0';
	return o;
}

/*
 * Build the one database.  A pattern Vectorscan rejects even in prefilter
 * mode is marked `always` (PCRE2 runs it on every input) and the compile
 * is retried without it.  With a compile hook (scanner_config.hs_compile)
 * someone else compiles and this process only deserializes: the same
 * retries, the same messages.
 */
static int
dlp_build_db(struct dlp *d, scanner_hs_compile_fn *compile, char *err,
    size_t errlen)
{
	hs_compile_error_t *cerr = NULL;
	const char **exprs = NULL;
	unsigned *flags = NULL, *ids = NULL;
	char **owned = NULL, *img, msg[256];
	size_t max = d->npats + 1 + d->nforms, n, i, nowned = 0, tries, imglen;
	int ret = -1, bad;
	hs_error_t herr;

	exprs = calloc(max, sizeof(*exprs));
	flags = calloc(max, sizeof(*flags));
	ids = calloc(max, sizeof(*ids));
	owned = calloc(d->nforms + 1, sizeof(*owned));
	if (!exprs || !flags || !ids || !owned) {
		snprintf(err, errlen, "dlp: out of memory");
		goto cleanup;
	}
	for (i = 0; i < d->nforms; i++)
		if ((owned[nowned++] = dlp_hs_literal(d->forms[i].bytes,
		    d->forms[i].len)) == NULL) {
			snprintf(err, errlen, "dlp: out of memory");
			goto cleanup;
		}
	d->form_base = (unsigned)d->npats;
	for (tries = 0; tries <= d->npats; tries++) {
		n = 0;
		for (i = 0; i < d->npats; i++) {
			if (d->pats[i].always || d->pats[i].shadowed ||
			    d->pats[i].shape)
				continue;
			exprs[n] = d->pats[i].regex;
			flags[n] = HS_FLAG_PREFILTER | HS_FLAG_ALLOWEMPTY |
			    HS_FLAG_SINGLEMATCH;
			ids[n++] = (unsigned)i;
		}
		for (i = 0; i < d->nforms; i++) {
			exprs[n] = owned[i];
			flags[n] = HS_FLAG_SINGLEMATCH;
			ids[n++] = d->form_base + (unsigned)i;
		}
		if (n == 0) {
			ret = 0;
			goto cleanup;
		}
		if (compile != NULL) {
			img = NULL;
			imglen = 0;
			bad = -1;
			msg[0] = '\0';
			if (compile(exprs, flags, ids, (unsigned)n, &img,
			    &imglen, &bad, msg, sizeof(msg)) == 0) {
				herr = hs_deserialize_database(img, imglen,
				    &d->db);
				free(img);
				if (herr == HS_SUCCESS)
					break;
				snprintf(err, errlen, "dlp: Vectorscan: cannot "
				    "load the compiled database (error %d)",
				    (int)herr);
				goto cleanup;
			}
		} else if (hs_compile_multi(exprs, flags, ids, (unsigned)n,
		    HS_MODE_BLOCK, NULL, &d->db, &cerr) == HS_SUCCESS)
			break;
		else {
			bad = cerr->expression;
			snprintf(msg, sizeof(msg), "%s", cerr->message);
			hs_free_compile_error(cerr);
			cerr = NULL;
		}
		if (bad < 0 || (unsigned)bad >= n || ids[bad] >= d->npats) {
			snprintf(err, errlen, "dlp: Vectorscan: %s", msg);
			goto cleanup;
		}
		d->pats[ids[bad]].always = 1;
	}
	ret = 0;
cleanup:
	hs_free_compile_error(cerr);
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	free(exprs);
	free(flags);
	free(ids);
	return ret;
}

struct dlp *
dlp_new(const struct scanner_config *cfg, char *err, size_t errlen)
{
	struct dlp *d;
	size_t i;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "dlp: out of memory");
		return NULL;
	}
	pthread_once(&dlp_tables_once, dlp_tables_init);
	d->prefilter = 1;
	d->seed_enabled = cfg->seed_enabled;
	d->seed_min = cfg->seed_min_words >= 12 ? cfg->seed_min_words : 12;
	d->seed_verify = cfg->seed_verify_checksum;
	d->gen = atomic_fetch_add(&dlp_gen_next, 1);
	if (dlp_build_patterns(d, cfg, err, errlen) == -1)
		goto fail;
	for (i = 0; i < DLP_SHAPE_COUNT; i++)
		d->shape_idx[i] = -1;
	for (i = 0; i < d->npats; i++)
		if (d->pats[i].shape && !d->pats[i].shadowed)
			d->shape_idx[d->pats[i].shape] = (ssize_t)i;
	if (dlp_build_secrets(d, cfg) == -1) {
		snprintf(err, errlen, "dlp: out of memory");
		goto fail;
	}
	if (dlp_build_db(d, cfg->hs_compile, err, errlen) == -1)
		goto fail;
	if ((d->always_bits = calloc((d->npats + 63) / 64 + 1,
	    sizeof(*d->always_bits))) == NULL) {
		snprintf(err, errlen, "dlp: out of memory");
		goto fail;
	}
	for (i = 0; i < d->npats; i++)
		if (d->pats[i].always && !d->pats[i].shadowed)
			d->always_bits[i / 64] |= 1ULL << (i % 64);
	return d;
fail:
	dlp_free(d);
	return NULL;
}

void
dlp_set_prefilter(struct dlp *d, int on)
{
	d->prefilter = on && d->db != NULL;
}

size_t
dlp_pattern_count(const struct dlp *d)
{
	return d->npats - d->ncore;
}

int
dlp_pattern_info(const struct dlp *d, size_t i, const char **name,
    const char **severity)
{
	if (i >= d->npats - d->ncore)
		return -1;
	*name = d->pats[d->ncore + i].name;
	*severity = d->pats[d->ncore + i].severity;
	return 0;
}

/* Thread-local scratch sized for d; NULL on allocation failure. */
static struct dlp_tls *
dlp_tls_get(const struct dlp *d)
{
	struct dlp_tls *t = &dlp_tls;
	size_t need = (d->npats + 63) / 64;

	if (t->mctx == NULL) {
		pthread_once(&dlp_tls_once, dlp_tls_key_init);
		(void)pthread_setspecific(dlp_tls_key, t);
		t->mctx = pcre2_match_context_create(NULL);
		t->jit = pcre2_jit_stack_create(DLP_JIT_STACK_MIN,
		    DLP_JIT_STACK_MAX, NULL);
		t->md = pcre2_match_data_create(16, NULL);
		if (t->mctx == NULL || t->jit == NULL || t->md == NULL)
			return NULL;
		pcre2_set_match_limit(t->mctx, DLP_MATCH_LIMIT);
		pcre2_jit_stack_assign(t->mctx, NULL, t->jit);
	}
	if (d->db != NULL && t->scratch_gen != d->gen) {
		if (hs_alloc_scratch(d->db, &t->scratch) != HS_SUCCESS)
			return NULL;
		t->scratch_gen = d->gen;
	}
	if (t->nbits < need) {
		uint64_t *nb = realloc(t->bits, need * sizeof(*nb));
		if (nb == NULL)
			return NULL;
		t->bits = nb;
		t->nbits = need;
	}
	if (t->nreg < d->npats + 1) {
		struct dlp_regions *nr = realloc(t->reg,
		    (d->npats + 1) * sizeof(*nr));
		if (nr == NULL)
			return NULL;
		memset(nr + t->nreg, 0, (d->npats + 1 - t->nreg) * sizeof(*nr));
		t->reg = nr;
		t->nreg = d->npats + 1;
	}
	return t;
}

struct dlp_hits {
	const struct dlp	*d;
	uint64_t		*bits;
	unsigned		 nsec;
	unsigned		 sec_id[DLP_SECRET_HITS];
	size_t			 sec_end[DLP_SECRET_HITS];
};

/* A match of width <= maxw ending at `to` starts in [a, b). */
static void
dlp_region_add(struct dlp_regions *r, size_t a, size_t b)
{
	if (r->full)
		return;
	if (r->n > 0 && a <= r->b[r->n - 1]) {
		if (b > r->b[r->n - 1])
			r->b[r->n - 1] = b;
		return;
	}
	if (r->n == r->cap) {
		unsigned cap = r->cap ? r->cap * 2 : 64;
		size_t *na, *nb;

		/* Out of room (or memory): confirm over the whole buffer. */
		if (cap > DLP_REGIONS ||
		    (na = realloc(r->a, cap * sizeof(*na))) == NULL) {
			r->full = 1;
			return;
		}
		r->a = na;
		if ((nb = realloc(r->b, cap * sizeof(*nb))) == NULL) {
			r->full = 1;
			return;
		}
		r->b = nb;
		r->cap = cap;
	}
	r->a[r->n] = a;
	r->b[r->n++] = b;
}

static int
dlp_hs_on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned flags, void *arg)
{
	struct dlp_hits *h = arg;

	if (id < h->d->npats)
		h->bits[id / 64] |= 1ULL << (id % 64);
	else if (h->nsec < DLP_SECRET_HITS) {
		h->sec_id[h->nsec] = id - h->d->form_base;
		h->sec_end[h->nsec++] = (size_t)to;
	}
	return 0;
}

static size_t
dlp_map_off(const struct dlp_map *m, size_t off)
{
	if (m->fixed)
		return m->base;
	if (m->src != NULL)
		off = m->keep_ws ? norm_for_text_srcoff(m->src, m->srclen, off)
		    : norm_for_dlp_srcoff(m->src, m->srclen, off);
	return m->base + off;
}

/* Already reported (same label + pattern) in res: one finding is enough. */
static int
dlp_reported(const struct scan_result *res, const char *label,
    const char *pattern, const char *reason)
{
	unsigned i;

	for (i = 0; i < res->nfindings; i++)
		if (res->findings[i].scanner == label &&
		    res->findings[i].pattern == pattern &&
		    (reason == NULL ||
		    strcmp(res->findings[i].reason, reason) == 0))
			return 1;
	return 0;
}

static int
dlp_host_exempt(const struct dlp_pat *p, const char *host)
{
	size_t i;

	if (host == NULL)
		return 0;
	for (i = 0; i < p->exempt.n; i++)
		if (domain_match(host, strlen(host), p->exempt.v[i]))
			return 1;
	return 0;
}

/*
 * PCRE2 from `from`: the first hit that validates is a finding, a limit
 * is a blocking finding.  Matches starting at or after `upto` are not
 * ours; the subject is cut at sublen, so a match reaching a cut that is
 * not the real end is ignored (its real extent is unknown).  Returns 1
 * when a finding was added.
 */
static int
dlp_confirm_range(struct dlp_tls *t, const struct dlp_pat *p,
    const char *buf, size_t len, size_t from, size_t upto, size_t sublen,
    enum scan_where where, const struct dlp_map *map,
    struct scan_result *res)
{
	const char *label = p->label == DLP_LABEL_CORE ? "core_dlp" : "dlp";
	PCRE2_SIZE *ov, start = from;
	int rc;

	while (start <= sublen && (start < upto || sublen == len)) {
		rc = pcre2_match(p->re, (PCRE2_SPTR)buf, sublen, start, 0, t->md,
		    t->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		if (rc < 0) {
			/* Fail closed: a pattern that cannot finish blocks. */
			if (!dlp_reported(res, "dlp", p->name, NULL))
				scan_result_add(res, "dlp", p->name,
				    p->severity, where, dlp_map_off(map, start),
				    1.0, 0, NULL, 0, "DLP scan limit hit: %s",
				    p->name);
			return 1;
		}
		ov = pcre2_get_ovector_pointer(t->md);
		/* Past its region a match only counts on the whole subject. */
		if (ov[0] >= upto && sublen < len)
			return 0;
		if ((ov[1] < sublen || sublen == len) &&
		    validate_match(p->validator, buf + ov[0], ov[1] - ov[0])) {
			scan_result_add(res, label, p->name, p->severity, where,
			    dlp_map_off(map, ov[0]), 1.0, p->warn_only,
			    buf + ov[0], ov[1] - ov[0], "DLP match: %s (%s)",
			    p->name, p->severity);
			return 1;
		}
		start = ov[1] > ov[0] && ov[1] < sublen ? ov[1] : ov[0] + 1;
	}
	return 0;
}

/* Whole buffer, or only the regions where the shape pass saw the pattern. */
static void
dlp_confirm(struct dlp_tls *t, const struct dlp_pat *p,
    const struct dlp_regions *r, const char *buf, size_t len,
    enum scan_where where, const struct dlp_map *map,
    struct scan_result *res)
{
	size_t i, end;

	if (r == NULL || r->full) {
		dlp_confirm_range(t, p, buf, len, 0, len + 1, len, where, map,
		    res);
		return;
	}
	for (i = 0; i < r->n; i++) {
		end = p->maxw ? r->b[i] + p->maxw + 1 : len;
		if (end > len)
			end = len;
		/* A search that ran to the end has seen every later region. */
		if (dlp_confirm_range(t, p, buf, len, r->a[i], r->b[i], end,
		    where, map, res) || end == len)
			return;
	}
}

static void
dlp_do_patterns(const struct dlp *d, struct dlp_tls *t, const uint64_t *bits,
    int regions, const char *buf, size_t len, enum scan_where where,
    const char *host, const struct dlp_map *map, struct scan_result *res)
{
	const struct dlp_pat *p;
	size_t i, w = 0, nw = (d->npats + 63) / 64;
	uint64_t cand = 0;

	for (i = 0; i < d->npats; i++) {
		if (regions) {
			/*
			 * Only the candidates (ascending, as the plain loop
			 * visits them): Vectorscan's hits, the `always`
			 * patterns and shapes with regions (dlp_pass).
			 */
			while (cand == 0 && w < nw)
				cand = bits[w++];
			if (cand == 0)
				break;
			i = (w - 1) * 64 + (size_t)__builtin_ctzll(cand);
			cand &= cand - 1;
		}
		p = &d->pats[i];
		if (p->shadowed)
			continue;
		if (regions && p->shape && t->reg[i].n == 0 && !t->reg[i].full)
			continue;
		if (regions && !p->always && !p->shape &&
		    !(bits[i / 64] >> (i % 64) & 1))
			continue;
		if (p->label != DLP_LABEL_CORE && dlp_host_exempt(p, host))
			continue;
		if (dlp_reported(res, p->label == DLP_LABEL_CORE ? "core_dlp" :
		    "dlp", p->name, NULL))
			continue;
		dlp_confirm(t, p, regions && p->shape ? &t->reg[i] : NULL, buf,
		    len, where, map, res);
	}
}

static void
dlp_secret_add(const struct dlp *d, size_t form, size_t off,
    enum scan_where where, const struct dlp_map *map, const char *buf,
    struct scan_result *res)
{
	const struct dlp_form *f = &d->forms[form];

	if (dlp_reported(res, "dlp", NULL, f->reason))
		return;
	scan_result_add(res, "dlp", NULL, "critical", where,
	    dlp_map_off(map, off), 1.0, 0, buf + off, f->len, "%s", f->reason);
}

/* pipelock's seed-phrase token separators: [-\s,|;:]. */
static int
dlp_seed_sep(unsigned char c)
{
	return c == '-' || c == ' ' || (c >= '\t' && c <= '\r') || c == ',' ||
	    c == '|' || c == ';' || c == ':';
}

/*
 * Seed phrases where the shape pass saw enough words: the region widened
 * to whole tokens, so a word with bytes glued to it ("x.legal") is the
 * token pipelock sees, not a word.
 */
static void
dlp_do_seed(const struct dlp *d, const struct dlp_regions *r,
    const char *buf, size_t len, enum scan_where where,
    const struct dlp_map *map, struct scan_result *res)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t off, mlen, a, b, i, floor;

	if (dlp_reported(res, "dlp", "BIP-39 Seed Phrase", NULL))
		return;
	for (i = 0; r == NULL || r->full || i < r->n; i++) {
		a = 0;
		b = len;
		if (r != NULL && !r->full) {
			a = r->a[i];
			floor = a > DLP_SEED_BACK ? a - DLP_SEED_BACK : 0;
			while (a > floor && !dlp_seed_sep(s[a - 1]))
				a--;
			b = r->b[i];
			while (b < len && !dlp_seed_sep(s[b]))
				b++;
		}
		if (bip39_find(buf + a, b - a, d->seed_min, d->seed_verify,
		    &off, &mlen)) {
			scan_result_add(res, "dlp", "BIP-39 Seed Phrase",
			    "critical", where, dlp_map_off(map, a + off), 1.0,
			    0, buf + a + off, mlen,
			    "DLP match: BIP-39 Seed Phrase (critical)");
			return;
		}
		if (r == NULL || r->full)
			return;
	}
}

/* Byte classes of the shape pass. */
#define S_WORD	0x01	/* \w: A-Z a-z 0-9 _ */
#define S_DIGIT	0x02
#define S_ALPHA	0x04
#define S_DSEP	0x10	/* card/SSN digit separators: space, '-' */
#define S_SSEP	0x20	/* seed word separators: [-\s,|;:] */

static unsigned char dlp_scls[256];

/*
 * Which letter runs may be BIP-39 words: the list's words are unique in
 * their first 4 letters, so a bit per 4-letter prefix (and per 3-letter
 * word) rejects nearly every English or lorem word with one load.  A
 * superset of the list: bip39_find() still checks each word.
 */
#define DLP_B3	(26 * 26 * 26)
#define DLP_B4	(26 * 26 * 26 * 26)
static uint64_t dlp_bip3[(DLP_B3 + 63) / 64], dlp_bip4[(DLP_B4 + 63) / 64];

static inline unsigned
dlp_letter(unsigned char c)
{
	return (unsigned)((c | 0x20) - 'a');
}

/* 1 if the letter run w (3..8 letters, any case) may be a list word. */
static inline int
dlp_bip_maybe(const unsigned char *w, size_t n)
{
	unsigned x = dlp_letter(w[0]) * 676 + dlp_letter(w[1]) * 26 +
	    dlp_letter(w[2]);

	if (n == 3)
		return (int)(dlp_bip3[x / 64] >> (x % 64) & 1);
	x = x * 26 + dlp_letter(w[3]);
	return (int)(dlp_bip4[x / 64] >> (x % 64) & 1);
}

static void
dlp_scls_init(void)
{
	const unsigned char *w;
	unsigned x;
	size_t n;
	int c;

	for (c = 0; c < BIP39_NWORDS; c++) {
		w = (const unsigned char *)bip39_words[c];
		n = strlen(bip39_words[c]);
		x = dlp_letter(w[0]) * 676 + dlp_letter(w[1]) * 26 +
		    dlp_letter(w[2]);
		if (n == 3)
			dlp_bip3[x / 64] |= 1ULL << (x % 64);
		else {
			x = x * 26 + dlp_letter(w[3]);
			dlp_bip4[x / 64] |= 1ULL << (x % 64);
		}
	}

	for (c = 0; c < 256; c++) {
		unsigned char k = 0;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			k |= S_WORD | S_ALPHA;
		if (c >= '0' && c <= '9')
			k |= S_WORD | S_DIGIT;
		if (c == '_')
			k |= S_WORD;
		if (c == ' ' || c == '-')
			k |= S_DSEP;
		if (c == '-' || c == ' ' || (c >= '\t' && c <= '\r') ||
		    c == ',' || c == '|' || c == ';' || c == ':')
			k |= S_SSEP;
		dlp_scls[c] = k;
	}
}

/*
 * The built-in formats made only of character classes (cards, SSNs,
 * IBANs, WIF keys, Discord tokens) and the seed-phrase shape cost
 * Vectorscan more than the other 40 patterns together, so one pass over
 * word runs finds where they can be instead.  Each rule accepts a superset
 * of its regex's matches, as the regions PCRE2 then confirms:
 *  - IBAN: \b..\b around [A-Z0-9] makes a match a whole \w run of 15..34
 *    without '_', two letters then two digits;
 *  - WIF: 51+ of [1-9A-Za-z] ((?i) makes the Base58 class all letters);
 *  - Discord: 24+ alphanumerics right before a '.';
 *  - card / SSN: a run of digits, spaces and '-' with 15+ digits / with
 *    9+ digits and 2+ '-';
 *  - seed: min_words tokens of 3..8 letters between separator runs, each
 *    a possible list word (dlp_bip_maybe(): bip39_find() needs
 *    consecutive list words, so any other word starts the count anew).
 */
/* Close a digit run [ds, de): card and SSN regions. */
static void
dlp_shape_digits(struct dlp_tls *t, ssize_t cc, ssize_t ssn, size_t ds,
    size_t de, size_t ndig, size_t nhyph)
{
	if (cc >= 0 && ndig >= 15)
		dlp_region_add(&t->reg[cc], ds, de);
	if (ssn >= 0 && ndig >= 9 && nhyph >= 2)
		dlp_region_add(&t->reg[ssn], ds, de);
}

/*
 * The shape pass over [from, ...): from must be a point where a scan from
 * 0 would stand with no digit run open and no seed words counted (0, or
 * see dlp_shapes_sync()).  Runs at least to `to` and then on until that
 * state holds again, and returns where it stopped: scanning the buffer in
 * such ranges adds exactly the regions one scan from 0 adds.
 */
static size_t
dlp_shapes_range(const struct dlp *d, struct dlp_tls *t, const char *buf,
    size_t len, int want, size_t from, size_t to)
{
	const unsigned char *s = (const unsigned char *)buf;
	struct dlp_regions *seed = &t->reg[d->npats];
	size_t i = from, j, z, y, x, ds = 0, de = 0, ndig = 0, nhyph = 0;
	size_t ws = 0, words = 0;
	ssize_t iban = d->shape_idx[DLP_SHAPE_IBAN];
	ssize_t wif = d->shape_idx[DLP_SHAPE_WIF];
	ssize_t disc = d->shape_idx[DLP_SHAPE_DISCORD];
	ssize_t cc = d->shape_idx[DLP_SHAPE_CARD];
	ssize_t ssn = d->shape_idx[DLP_SHAPE_SSN];
	int dseed = (want & DLP_WANT_SEED) && d->seed_enabled, open = 0;
	unsigned char c, k;

	if (!(want & DLP_WANT_PATTERNS))
		iban = wif = disc = cc = ssn = -1;
	while (i < len && (i < to || open || words)) {
		c = dlp_scls[s[i]];
		if (!(c & S_WORD)) {
			/* Spaces and '-' keep a digit run open. */
			if (open && !(c & S_DSEP)) {
				dlp_shape_digits(t, cc, ssn, ds, de, ndig,
				    nhyph);
				open = 0;
			}
			nhyph += open && s[i] == '-';
			if (!(c & S_SSEP))
				words = 0;
			i++;
			continue;
		}
		/* A \w run [i, j): all digits, all letters, or mixed. */
		k = S_DIGIT | S_ALPHA;
		for (j = i; j < len && ((c = dlp_scls[s[j]]) & S_WORD); j++)
			k &= c;
		if (k & S_DIGIT) {
			if (!open) {
				ds = i;
				ndig = nhyph = 0;
				open = 1;
			}
			ndig += j - i;
			de = j;
			words = 0;
			i = j;
			continue;
		}
		if (open) {
			dlp_shape_digits(t, cc, ssn, ds, de, ndig, nhyph);
			open = 0;
		}
		if (iban >= 0 && j - i >= 15 && j - i <= 34 &&
		    (dlp_scls[s[i]] & S_ALPHA) &&
		    (dlp_scls[s[i + 1]] & S_ALPHA) &&
		    (dlp_scls[s[i + 2]] & S_DIGIT) &&
		    (dlp_scls[s[i + 3]] & S_DIGIT) &&
		    memchr(s + i, '_', j - i) == NULL)
			dlp_region_add(&t->reg[iban], i, i + 1);
		/* Sub-runs without '_' (and, for WIF, without '0'). */
		for (z = i; (wif >= 0 || disc >= 0) && j - i >= 24 && z < j;
		    z = y + 1) {
			for (y = z; y < j && s[y] != '_'; y++)
				;
			if (disc >= 0 && y == j && j < len && s[j] == '.' &&
			    y - z >= 24)
				dlp_region_add(&t->reg[disc], z, j);
			for (x = z; wif >= 0 && x < y; x++) {
				size_t w = x;

				while (w < y && s[w] != '0')
					w++;
				if (w - x >= 51)
					dlp_region_add(&t->reg[wif], x, w);
				x = w;
			}
		}
		if (dseed) {
			if ((k & S_ALPHA) && j - i >= 3 && j - i <= 8 &&
			    dlp_bip_maybe(s + i, j - i)) {
				if (words++ == 0)
					ws = i;
				if (words >= (size_t)d->seed_min)
					dlp_region_add(seed, ws, j);
			} else
				words = 0;
		}
		i = j;
	}
	if (open)
		dlp_shape_digits(t, cc, ssn, ds, de, ndig, nhyph);
	return i;
}

/*
 * The latest point at or before p (not before lo, where the pass stands)
 * where the shape pass's state is known to be empty: right after a byte
 * that is neither \w nor a separator, or after a \w run that closes a
 * digit run and resets the seed word count (not a possible list word:
 * lorem text stops the walk back after a word).
 */
static size_t
dlp_shapes_sync(const unsigned char *s, size_t p, size_t lo)
{
	size_t x = p, w;
	unsigned char c, k;

	/* Before the \w run holding p or ending right before it. */
	while (x > lo && (dlp_scls[s[x - 1]] & S_WORD))
		x--;
	while (x > lo) {
		c = dlp_scls[s[x - 1]];
		if (!(c & (S_WORD | S_DSEP | S_SSEP)))
			return x;
		if (!(c & S_WORD)) {
			x--;
			continue;
		}
		k = S_DIGIT | S_ALPHA;
		for (w = x; w > lo && ((c = dlp_scls[s[w - 1]]) & S_WORD); w--)
			k &= c;
		if (!(k & S_DIGIT) &&
		    !((k & S_ALPHA) && x - w >= 3 && x - w <= 8 &&
		    dlp_bip_maybe(s + w, x - w)))
			return x;
		x = w;
	}
	return lo;
}

/*
 * Triggers: where the scalar passes have something to do.
 *
 * Benign text keeps the shape pass and the encoded-run finder (dlp_runs)
 * busy on every byte while nearly no byte starts anything, so one SIMD
 * pass classifies 64 bytes at a time into bit masks and marks, with
 * shifts and ANDs over those masks, the bytes where a necessary condition
 * of each thing holds: the last byte of
 *  - runs: 16 token bytes (a run worth decoding) or 23 bytes of hex and
 *    its separators (8 separated pairs, "de:ad:..", "\xde\xad..");
 *  - card: 15 bytes of digits, ' ' and '-' starting with 4 digits;
 *  - SSN: ddd-dd-dddd;  IBAN: 15 bytes of a \w run starting with two
 *    letters and two digits;  WIF: 51 of [1-9A-Za-z];  Discord: 24 alphanumerics + '.';
 *  - seed phrase: 47 bytes (12 words of 3+ letters and their separators)
 *    holding only letters and seed separators, no letter run shorter than
 *    3 or longer than 8.
 * The scalar passes then run only from a synchronisation point before
 * each trigger (dlp_shapes_sync(), dlp_runs_sync()), so they find exactly
 * what a scan of every byte finds; the tests compare with the
 * PCRE2-only mode, which still scans every byte.  Without AVX-512 (BW,
 * VBMI, VBMI2) and GFNI (Ice Lake, Zen 4 and later) the trigger pass is
 * skipped and every byte is scanned as before.
 */
#define K_TOK	0x01	/* C_TOK */
#define K_HEX	0x02
#define K_HSEP	0x04	/* hex byte separators : - space , */
#define K_W	0x08
#define K_D	0x10
#define K_L	0x20
#define K_SSEP	0x40
#define K_DS	0x80	/* digit, ' ', '-' */
#define K2_DOT	0x01
#define K2_HY	0x02
#define K2_BS	0x04	/* '\\' */
#define K2_X	0x08	/* 'x' 'X' */
#define K2_ZERO	0x10
#define K2_CTRL	0x20	/* not plain text: controls but \t \n \r, DEL */
#define K2_PCT	0x40	/* '%' */

#define DLP_TF_UNPLAIN	0x1	/* dlp_trig(): not plain text, stopped */
#define DLP_TF_PCT	0x2	/* dlp_trig(): a '%' */

/* The fewest bytes of a seed phrase: 12 words of 3 letters, 11 separators. */
#define DLP_SEED_SPAN	47

static unsigned char dlp_ktab[2][128];
#if defined(__x86_64__) && defined(__GNUC__)
#define DLP_X86		1
static int dlp_simd;	/* AVX-512 BW + VBMI + VBMI2, GFNI at run time */
#endif

static void
dlp_ktab_init(void)
{
	int c;

	for (c = 0; c < 128; c++) {
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		int digit = c >= '0' && c <= '9';
		unsigned char k = 0, k2 = 0;

		if (alpha || digit || c == '+' || c == '/' || c == '-' ||
		    c == '_' || c == '=' || c == '.')
			k |= K_TOK;
		if (digit || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
			k |= K_HEX;
		if (c == ':' || c == '-' || c == ' ' || c == ',')
			k |= K_HSEP;
		if (alpha || digit || c == '_')
			k |= K_W;
		if (digit)
			k |= K_D | K_DS;
		if (alpha)
			k |= K_L;
		if (c == '-' || c == ' ' || (c >= '\t' && c <= '\r') ||
		    c == ',' || c == '|' || c == ';' || c == ':')
			k |= K_SSEP;
		if (c == ' ' || c == '-')
			k |= K_DS;
		k2 |= c == '.' ? K2_DOT : 0;
		k2 |= c == '-' ? K2_HY : 0;
		k2 |= c == '\\' ? K2_BS : 0;
		k2 |= (c | 0x20) == 'x' ? K2_X : 0;
		k2 |= c == '0' ? K2_ZERO : 0;
		k2 |= (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f ? K2_CTRL : 0;
		k2 |= c == '%' ? K2_PCT : 0;
		dlp_ktab[0][c] = k;
		dlp_ktab[1][c] = k2;
	}
#ifdef DLP_X86
	__builtin_cpu_init();
	dlp_simd = __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi") &&
	    __builtin_cpu_supports("avx512vbmi2") &&
	    __builtin_cpu_supports("gfni") &&
	    __builtin_cpu_supports("popcnt");	/* the mask counts use it */
	/*
	 * PIPELOCK_FW_NO_SIMD=1 forces the portable path: the tests run the
	 * scanner both ways on machines that have the instructions, and an
	 * operator has a way out should a CPU misreport them.
	 */
	if (getenv("PIPELOCK_FW_NO_SIMD") != NULL)
		dlp_simd = 0;
#endif
}

#ifdef DLP_X86
#include <immintrin.h>

/*
 * The trigger logic runs on 8 blocks at once: each class is a vector of
 * eight 64-bit masks (lane j: block b + j), and "the block before" of a
 * lane is the lane below it (the last lane of the previous 8 for lane 0).
 * Every condition looks back at most 50 bytes, so the block right before
 * is all a block needs: x shifted towards higher byte positions by k and
 * fed from the block before is one VPSHLDVQ.
 */
#define DLP_TARGET	__attribute__((target( \
	"avx512f,avx512bw,avx512vbmi,avx512vbmi2,gfni"), always_inline))

/* x << k within each lane, the bits shifted out of the lane before in. */
static inline DLP_TARGET __m512i
dlp_vshl(__m512i x, __m512i px, int k)
{
	return _mm512_shldv_epi64(x, px, _mm512_set1_epi64(k));
}

/* The lanes one block back: lane 0 gets the last lane of `last`. */
static inline DLP_TARGET __m512i
dlp_vprev(__m512i x, __m512i last)
{
	return _mm512_alignr_epi64(x, last, 7);
}

/*
 * Bytes ending n (2..64) in a row of a class: zero bits spread forward
 * n - 1 places over the 128 bits of a block and the one before (the
 * spread never needs the block before that: n - 1 < 64).
 */
static inline DLP_TARGET __m512i
dlp_vrow(__m512i m, __m512i pm, int n)
{
	__m512i ones = _mm512_set1_epi64(-1);
	__m512i z = _mm512_xor_si512(m, ones), pz = _mm512_xor_si512(pm, ones);

	/*
	 * n is a constant: the compiler keeps only the steps it needs, each
	 * with constant shift counts.
	 */
#define DLP_VSTEP(k)	(z = _mm512_or_si512(z, dlp_vshl(z, pz, (k))), \
	pz = _mm512_or_si512(pz, _mm512_slli_epi64(pz, (unsigned)(k))))
	DLP_VSTEP(1);
	if (n > 2)
		DLP_VSTEP(n >= 4 ? 2 : n - 2);
	if (n > 4)
		DLP_VSTEP(n >= 8 ? 4 : n - 4);
	if (n > 8)
		DLP_VSTEP(n >= 16 ? 8 : n - 8);
	if (n > 16)
		DLP_VSTEP(n >= 32 ? 16 : n - 16);
	if (n > 32)
		DLP_VSTEP(n - 32);
#undef DLP_VSTEP
	return _mm512_xor_si512(z, ones);
}

/* What the next 8 blocks need from these: their last lanes. */
struct dlp_vcarry {
	__m512i	tok, hex, h2, hs, bs, zero, d, d2, d4, l, l2, w, hy, ds, b58,
		an, e24, good, iban;
};

/*
 * Triggers of 8 blocks from their class masks (k0[bit]: lanes of the
 * blocks' K_* class bit, k1[bit]: K2_*, k1[7]: the bytes in the buffer);
 * c holds the 8 blocks before and receives these.  Shapes go to st, the
 * seed phrase to sst: its stretches get a quick look of their own
 * (dlp_seed_none()).
 */
static inline DLP_TARGET void
dlp_trig_8(struct dlp_vcarry *c, const __m512i k0[8], const __m512i k1[8],
    __m512i *rt, __m512i *ht, __m512i *st, __m512i *sst)
{
#define AND(a, b)	_mm512_and_si512(a, b)
#define OR(a, b)	_mm512_or_si512(a, b)
#define ANDN(a, b)	_mm512_andnot_si512(a, b)	/* ~a & b */
	__m512i tok = k0[0], hex = k0[1], hs = k0[2], w = k0[3], d = k0[4];
	__m512i l = k0[5], ssep = k0[6], ds = k0[7], dot = k1[0], hy = k1[1];
	__m512i bs = k1[2], x = k1[3], zero = k1[4], valid = k1[7];
	/* [0-9A-Za-z], and [1-9A-Za-z]: base58 under (?i). */
	__m512i an = _mm512_or_si512(l, d);
	__m512i b58 = _mm512_or_si512(l, _mm512_andnot_si512(zero, d));
	__m512i ones = _mm512_set1_epi64(-1);
	__m512i phex = dlp_vprev(hex, c->hex), phs = dlp_vprev(hs, c->hs);
	__m512i pd = dlp_vprev(d, c->d), pl = dlp_vprev(l, c->l);
	__m512i pw = dlp_vprev(w, c->w), phy = dlp_vprev(hy, c->hy);
	__m512i h2, ph2, d2, pd2, d4, pd4, e24, l2, pl2, bad, good, iban, t;

	/* Token runs of 16; joints of separated hex pairs (see above). */
	h2 = AND(hex, dlp_vshl(hex, phex, 1));
	ph2 = dlp_vprev(h2, c->h2);
	*rt = AND(dlp_vrow(tok, dlp_vprev(tok, c->tok), 16), valid);
	t = AND(AND(hs, dlp_vshl(h2, ph2, 1)),
	    AND(dlp_vshl(hs, phs, 3), dlp_vshl(h2, ph2, 4)));
	t = OR(t, AND(x, OR(dlp_vshl(bs, dlp_vprev(bs, c->bs), 1),
	    AND(dlp_vshl(zero, dlp_vprev(zero, c->zero), 1),
	    OR(dlp_vshl(h2, ph2, 2), AND(dlp_vshl(h2, ph2, 3),
	    dlp_vshl(hs, phs, 2)))))));
	*ht = AND(t, valid);
	d2 = AND(d, dlp_vshl(d, pd, 1));
	pd2 = dlp_vprev(d2, c->d2);
	d4 = AND(d2, dlp_vshl(d2, pd2, 2));
	pd4 = dlp_vprev(d4, c->d4);
	/*
	 * IBAN: non-word, letter, letter, digit, digit, marked at the 15th
	 * byte of the \w run.
	 */
	iban = AND(AND(d2, dlp_vshl(l, pl, 2)), ANDN(dlp_vshl(w, pw, 4),
	    dlp_vshl(l, pl, 3)));
	t = AND(dlp_vshl(iban, dlp_vprev(iban, c->iban), 11),
	    dlp_vrow(w, pw, 15));
	/* SSN: ddd-dd-dddd. */
	t = OR(t, AND(AND(AND(d4, dlp_vshl(hy, phy, 4)),
	    AND(dlp_vshl(d2, pd2, 5), dlp_vshl(hy, phy, 7))),
	    AND(dlp_vshl(d, pd, 8), dlp_vshl(d2, pd2, 9))));
	/* Card: 15 of [0-9 -] whose first 4 are digits. */
	t = OR(t, AND(dlp_vrow(ds, dlp_vprev(ds, c->ds), 15),
	    dlp_vshl(d4, pd4, 11)));
	/* WIF: 51 base58 bytes; Discord: 24 alphanumerics then '.'. */
	t = OR(t, dlp_vrow(b58, dlp_vprev(b58, c->b58), 51));
	e24 = dlp_vrow(an, dlp_vprev(an, c->an), 24);
	t = OR(t, AND(dot, dlp_vshl(e24, dlp_vprev(e24, c->e24), 1)));
	/*
	 * Seed: bad bytes are neither letters nor separators, the 9th letter
	 * of a run, and the byte after a run of 1 or 2 letters; 47 good
	 * bytes in a row end a possible phrase.
	 */
	l2 = AND(l, dlp_vshl(l, pl, 1));
	pl2 = dlp_vprev(l2, c->l2);
	bad = OR(_mm512_xor_si512(OR(l, ssep), ones),
	    OR(dlp_vrow(l, pl, 9), ANDN(l, ANDN(dlp_vshl(l2, pl2, 2),
	    dlp_vshl(l, pl, 1)))));
	good = _mm512_xor_si512(bad, ones);
	*st = AND(t, valid);
	*sst = AND(dlp_vrow(good, dlp_vprev(good, c->good), DLP_SEED_SPAN),
	    valid);
	c->tok = tok;
	c->hex = hex;
	c->h2 = h2;
	c->hs = hs;
	c->bs = bs;
	c->zero = zero;
	c->d = d;
	c->d2 = d2;
	c->d4 = d4;
	c->l = l;
	c->l2 = l2;
	c->w = w;
	c->hy = hy;
	c->ds = ds;
	c->b58 = b58;
	c->an = an;
	c->e24 = e24;
	c->good = good;
	c->iban = iban;
#undef AND
#undef OR
#undef ANDN
}

/*
 * The 8 class bits of 64 bytes as 8 masks: qword j of the result holds
 * bit j of every byte.  GF2P8AFFINEQB with the data as the matrix
 * transposes each qword's 8x8 bits (bytes reversed first, so that bit i
 * is byte i), then VPERMB gathers byte j of every qword into qword j.
 */
static inline DLP_TARGET __m512i
dlp_vbits(__m512i v)
{
	const __m512i rev = _mm512_set_epi8(
	    56, 57, 58, 59, 60, 61, 62, 63, 48, 49, 50, 51, 52, 53, 54, 55,
	    40, 41, 42, 43, 44, 45, 46, 47, 32, 33, 34, 35, 36, 37, 38, 39,
	    24, 25, 26, 27, 28, 29, 30, 31, 16, 17, 18, 19, 20, 21, 22, 23,
	    8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
	const __m512i onehot = _mm512_set1_epi64(0x8040201008040201LL);
	const __m512i gather = _mm512_set_epi8(
	    63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6,
	    61, 53, 45, 37, 29, 21, 13, 5, 60, 52, 44, 36, 28, 20, 12, 4,
	    59, 51, 43, 35, 27, 19, 11, 3, 58, 50, 42, 34, 26, 18, 10, 2,
	    57, 49, 41, 33, 25, 17, 9, 1, 56, 48, 40, 32, 24, 16, 8, 0);

	v = _mm512_permutexvar_epi8(rev, v);
	v = _mm512_gf2p8affine_epi64_epi8(onehot, v, 0);
	return _mm512_permutexvar_epi8(gather, v);
}

/* 8x8 transpose of 64-bit lanes: out[j] lane b = in[b] lane j. */
static inline DLP_TARGET void
dlp_vtranspose(const __m512i in[8], __m512i out[8])
{
	__m512i a[8], b[8];
	int i;

	for (i = 0; i < 8; i += 2) {
		a[i] = _mm512_unpacklo_epi64(in[i], in[i + 1]);
		a[i + 1] = _mm512_unpackhi_epi64(in[i], in[i + 1]);
	}
	/* b[0..3]: blocks 0-3, b[4..7]: blocks 4-7; lanes q, q + 4. */
	for (i = 0; i < 8; i += 4) {
		b[i] = _mm512_shuffle_i64x2(a[i], a[i + 2], 0x88);
		b[i + 1] = _mm512_shuffle_i64x2(a[i], a[i + 2], 0xdd);
		b[i + 2] = _mm512_shuffle_i64x2(a[i + 1], a[i + 3], 0x88);
		b[i + 3] = _mm512_shuffle_i64x2(a[i + 1], a[i + 3], 0xdd);
	}
	out[0] = _mm512_shuffle_i64x2(b[0], b[4], 0x88);
	out[4] = _mm512_shuffle_i64x2(b[0], b[4], 0xdd);
	out[2] = _mm512_shuffle_i64x2(b[1], b[5], 0x88);
	out[6] = _mm512_shuffle_i64x2(b[1], b[5], 0xdd);
	out[1] = _mm512_shuffle_i64x2(b[2], b[6], 0x88);
	out[5] = _mm512_shuffle_i64x2(b[2], b[6], 0xdd);
	out[3] = _mm512_shuffle_i64x2(b[3], b[7], 0x88);
	out[7] = _mm512_shuffle_i64x2(b[3], b[7], 0xdd);
}

/*
 * AVX-512 classification: one 128-entry table lookup per 64 bytes gives
 * every class at once; bytes >= 0x80 are in no class.  rt/st receive one
 * bit per byte ((len + 63) / 64 words each; st may be NULL, else it is the
 * shape triggers followed by the seed-phrase triggers).  With flags,
 * it also says what norm_text_plain() and a '%' search would: on the
 * first byte that is not plain text it stops (the caller normalises and
 * starts again), and DLP_TF_PCT means a '%'.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,gfni")))
static void
dlp_trig_avx512(const unsigned char *s, size_t len, uint64_t *rt,
    uint64_t *ht, uint64_t *st, unsigned *flags)
{
	struct dlp_vcarry c;
	__m512i t0lo = _mm512_loadu_si512(dlp_ktab[0]);
	__m512i t0hi = _mm512_loadu_si512(dlp_ktab[0] + 64);
	__m512i t1lo = _mm512_loadu_si512(dlp_ktab[1]);
	__m512i t1hi = _mm512_loadu_si512(dlp_ktab[1] + 64);
	__m512i v, v1, r0[8], r1[8], k0[8], k1[8], vr, vh, vs, vss;
	__mmask64 m, ascii, unplain = 0, pct = 0;
	__mmask8 lanes;
	size_t b, g, j, nb = (len + 63) / 64;

	memset(&c, 0, sizeof(c));	/* before the buffer: no class */
	for (g = 0; g < nb; g += 8) {
		for (j = 0; j < 8; j++) {
			b = g + j;
			if (b >= nb) {
				/* Past the end: no class, nothing valid. */
				r0[j] = r1[j] = _mm512_setzero_si512();
				continue;
			}
			m = len - b * 64 >= 64 ? ~0ULL :
			    (1ULL << (len - b * 64)) - 1;
			v = _mm512_maskz_loadu_epi8(m, s + b * 64);
			ascii = ~_mm512_movepi8_mask(v) & m;
			r0[j] = dlp_vbits(_mm512_maskz_permutex2var_epi8(ascii,
			    t0lo, v, t0hi));
			v1 = _mm512_maskz_permutex2var_epi8(ascii, t1lo, v,
			    t1hi);
			/* Not plain: >= 0x80 or K2_CTRL (norm_text_plain()). */
			unplain |= (m & ~ascii) | _mm512_test_epi8_mask(v1,
			    _mm512_set1_epi8(K2_CTRL));
			pct |= _mm512_test_epi8_mask(v1,
			    _mm512_set1_epi8(K2_PCT));
			/* K2_* use bits 0..6: bit 7 carries the valid bytes. */
			r1[j] = _mm512_mask_set1_epi64(dlp_vbits(v1), 0x80,
			    (long long)m);
		}
		dlp_vtranspose(r0, k0);
		dlp_vtranspose(r1, k1);
		dlp_trig_8(&c, k0, k1, &vr, &vh, &vs, &vss);
		lanes = nb - g >= 8 ? 0xff : (__mmask8)((1u << (nb - g)) - 1);
		_mm512_mask_storeu_epi64(rt + g, lanes, vr);
		_mm512_mask_storeu_epi64(ht + g, lanes, vh);
		if (st) {
			_mm512_mask_storeu_epi64(st + g, lanes, vs);
			_mm512_mask_storeu_epi64(st + nb + g, lanes, vss);
		}
		if (unplain && flags != NULL)
			break;
	}
	if (flags != NULL)
		*flags = (unplain ? DLP_TF_UNPLAIN : 0) | (pct ? DLP_TF_PCT : 0);
}
#endif

/* Grow a per-thread bitmap to hold len bits; NULL on allocation failure. */
static uint64_t *
dlp_bitmap(uint64_t **map, size_t *cap, size_t len)
{
	size_t need = (len + 63) / 64;
	uint64_t *nm;

	if (need == 0)
		need = 1;
	if (*cap < need) {
		if ((nm = realloc(*map, need * sizeof(*nm))) == NULL)
			return NULL;
		*map = nm;
		*cap = need;
	}
	return *map;
}

/*
 * Trigger bitmaps of buf: runs triggers into rt (token runs, then hex
 * joints: 2 * (len + 63) / 64 words), shape triggers then seed triggers
 * into st (likewise; NULL: not wanted), flags: see dlp_trig_avx512()
 * (NULL: not wanted).  Returns -1 when there is no SIMD path: callers
 * scan every byte.
 */
static int
dlp_trig(const char *buf, size_t len, uint64_t *rt, uint64_t *st,
    unsigned *flags)
{
#ifdef DLP_X86
	if (dlp_simd) {
		dlp_trig_avx512((const unsigned char *)buf, len, rt,
		    rt + (len + 63) / 64, st, flags);
		return 0;
	}
#endif
	return -1;
}

/* Bits of bitmap word w at or after position i. */
static inline uint64_t
dlp_from_mask(size_t i, size_t w)
{
	if (i <= w * 64)
		return ~0ULL;
	return i - w * 64 >= 64 ? 0 : ~0ULL << (i - w * 64);
}

/* The first clear bit of bitmap bm (nw words) after set bit p. */
static size_t
dlp_bits_end(const uint64_t *bm, size_t nw, size_t p)
{
	size_t w = p / 64;
	uint64_t z = ~bm[w] & (~0ULL << (p % 64));

	while (z == 0 && ++w < nw)
		z = ~bm[w];
	return z == 0 ? nw * 64 : w * 64 + (size_t)__builtin_ctzll(z);
}

#define DLP_SEED_LOOK	512	/* longest stretch dlp_seed_none() looks at */

/*
 * 1 if the seed triggers [p, e) (a maximal stretch) cannot give a seed
 * region, so the shape pass may skip them.  Their text is [a, e), a = p -
 * (DLP_SEED_SPAN - 1): every byte a letter or a seed separator, letter
 * runs of 3..8 (the trigger's "good" bytes), with bad bytes at a - 1 and
 * e.  The shape pass
 * counts possible list words (dlp_bip_maybe()) and, there, only they are
 * \w runs and nothing but a word that is not one resets the count.  Any
 * min_words such words in a row lie inside the stretch's text (they are
 * good bytes, and at least DLP_SEED_SPAN of them), so this counts them
 * there, with the letter runs from 64-bit masks.  A run cut by either end
 * (a letter at a - 1 or at e: 9 letters or more) is not a word.
 */
#ifdef DLP_X86
__attribute__((target("avx512f,avx512bw,popcnt")))
#endif
static int
dlp_seed_none(const struct dlp *d, const unsigned char *s, size_t len,
    size_t p, size_t e)
{
	uint64_t lm[DLP_SEED_LOOK / 64 + 1], bits, prev = 0;
	size_t a, n, nw, w, x, y, runs = 0;
	int words = 0;

	if (p < DLP_SEED_SPAN - 1 || e - p > DLP_SEED_LOOK - DLP_SEED_SPAN)
		return 0;
	a = p - (DLP_SEED_SPAN - 1);
	n = e - a;
	nw = (n + 63) / 64;
	for (w = 0; w < nw; w++) {
#ifdef DLP_X86
		__mmask64 k = n - w * 64 >= 64 ? ~0ULL :
		    (1ULL << (n - w * 64)) - 1;
		__m512i v = _mm512_maskz_loadu_epi8(k, s + a + w * 64);

		/* (c | 0x20) - 'a' < 26: the S_ALPHA bytes. */
		lm[w] = _mm512_mask_cmplt_epu8_mask(k, _mm512_sub_epi8(
		    _mm512_or_si512(v, _mm512_set1_epi8(0x20)),
		    _mm512_set1_epi8('a')), _mm512_set1_epi8(26));
#else
		lm[w] = 0;
		for (x = 0; x < 64 && w * 64 + x < n; x++)
			lm[w] |= (uint64_t)((dlp_scls[s[a + w * 64 + x]] &
			    S_ALPHA) != 0) << x;
#endif
	}
	lm[nw] = 0;
	/* Fewer letter runs than words needed (most prose): no look-up. */
	for (w = 0; w < nw; w++) {
		runs += (size_t)__builtin_popcountll(lm[w] &
		    ~(lm[w] << 1 | prev));
		prev = lm[w] >> 63;
	}
	if (runs < (size_t)d->seed_min)
		return 1;
	for (x = 0; x < n; x = y) {
		/* The next letter run [x, y). */
		w = x / 64;
		bits = lm[w] & (~0ULL << (x % 64));
		while (bits == 0 && ++w < nw)
			bits = lm[w];
		if (bits == 0)
			break;
		x = w * 64 + (size_t)__builtin_ctzll(bits);
		bits = ~lm[w] & (~0ULL << (x % 64));
		while (bits == 0)
			bits = ~lm[++w];
		y = w * 64 + (size_t)__builtin_ctzll(bits);
		if (y > n)
			y = n;
		if ((x == 0 && a > 0 && (dlp_scls[s[a - 1]] & S_ALPHA)) ||
		    (y == n && e < len && (dlp_scls[s[e]] & S_ALPHA)) ||
		    y - x < 3 || y - x > 8 || !dlp_bip_maybe(s + a + x, y - x))
			words = 0;
		else if (++words >= d->seed_min)
			return 0;
	}
	return 1;
}

/*
 * The shape pass over the trigger stretches of bitmap tr (want: what the
 * ranges look for), each from its sync point.  skip, when not NULL, may
 * rule a stretch out.
 */
static void
dlp_shapes_trig(const struct dlp *d, struct dlp_tls *t, const char *buf,
    size_t len, int want, const uint64_t *tr,
    int (*skip)(const struct dlp *, const unsigned char *, size_t, size_t,
    size_t))
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0, w, p, e, nw = (len + 63) / 64;
	uint64_t bits;

	for (w = 0; w < nw; w++) {
		/* Shape triggers are sparse: 512 bytes without one at a time. */
		while (w + 8 <= nw && (tr[w] | tr[w + 1] | tr[w + 2] |
		    tr[w + 3] | tr[w + 4] | tr[w + 5] | tr[w + 6] |
		    tr[w + 7]) == 0)
			w += 8;
		if (w >= nw)
			break;
		bits = tr[w] & dlp_from_mask(i, w);
		while (bits) {
			p = w * 64 + (size_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (p < i)
				continue;
			/*
			 * A stretch of triggers (seed-like text) in one range:
			 * one walk back, not one per trigger.
			 */
			e = dlp_bits_end(tr, nw, p);
			if (skip != NULL && skip(d, s, len, p, e))
				i = e;
			else
				i = dlp_shapes_range(d, t, buf, len, want,
				    dlp_shapes_sync(s, p, i), e);
			if (i >= (w + 1) * 64)
				break;
			bits &= ~0ULL << (i - w * 64);
		}
	}
}

/*
 * The shape pass: from each trigger's sync point, or over every byte (st
 * NULL).  The seed phrase has triggers of its own (after the others in
 * st) and a quick look that rules most of them out (dlp_seed_none()).
 */
static void
dlp_shapes(const struct dlp *d, struct dlp_tls *t, const char *buf,
    size_t len, int want, const uint64_t *st)
{
	if (st == NULL) {
		dlp_shapes_range(d, t, buf, len, want, 0, len);
		return;
	}
	if (want & DLP_WANT_PATTERNS)
		dlp_shapes_trig(d, t, buf, len, want & ~DLP_WANT_SEED, st,
		    NULL);
	if ((want & DLP_WANT_SEED) && d->seed_enabled)
		dlp_shapes_trig(d, t, buf, len, DLP_WANT_SEED,
		    st + (len + 63) / 64, dlp_seed_none);
}

/*
 * One pass over buf: Vectorscan for candidates, then the confirmations
 * `want` asks for.  Returns 1 if res became blocked, 0 if not, -1 on an
 * internal error (an "error" finding is added: callers block).
 */
static int
dlp_pass(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, const struct dlp_map *map,
    int want, int rslot, const uint64_t **rtrig, struct scan_result *res)
{
	struct dlp_hits h;
	struct dlp_tls *t;
	uint64_t *rt, *st = NULL;
	size_t i, nw;
	int before = res->blocked, shapes;

	if ((t = dlp_tls_get(d)) == NULL)
		goto fail;
	memset(&h, 0, sizeof(h));
	h.d = d;
	h.bits = t->bits;
	nw = (d->npats + 63) / 64;
	memcpy(t->bits, d->always_bits, nw * sizeof(*t->bits));
	/* Only the shapes and the seed phrase use regions. */
	for (i = 0; i < DLP_SHAPE_COUNT; i++)
		if (d->shape_idx[i] >= 0) {
			t->reg[d->shape_idx[i]].n = 0;
			t->reg[d->shape_idx[i]].full = 0;
		}
	t->reg[d->npats].n = 0;
	t->reg[d->npats].full = 0;
	if (d->prefilter && d->db != NULL && len > 0) {
		if (len > UINT32_MAX ||
		    hs_scan(d->db, buf, (unsigned)len, 0, t->scratch,
		    dlp_hs_on_match, &h) != HS_SUCCESS)
			goto fail;
	}
	if (rtrig != NULL)
		*rtrig = NULL;
	if (d->prefilter) {
		shapes = (want & DLP_WANT_PATTERNS) ||
		    ((want & DLP_WANT_SEED) && d->seed_enabled);
		rt = dlp_bitmap(&t->truns[rslot], &t->ntruns[rslot],
		    (len + 63) / 64 * 128);
		if (shapes)
			st = dlp_bitmap(&t->tshape, &t->ntshape,
			    (len + 63) / 64 * 128);
		if (rt == NULL || (shapes && st == NULL))
			goto fail;
		if (t->pre == buf && t->prelen == len && rslot == 0 &&
		    shapes) {
			t->pre = NULL;	/* dlp_scan_text() did it */
			if (rtrig != NULL)
				*rtrig = rt;
		} else if (dlp_trig(buf, len, rt, st, NULL) == -1)
			st = NULL;	/* no SIMD: every byte */
		else if (rtrig != NULL)
			*rtrig = rt;
		if (shapes)
			dlp_shapes(d, t, buf, len, want, st);
	} else {
		/* PCRE2-only mode: every candidate, secrets by memmem. */
		for (i = 0; i < d->nforms && h.nsec < DLP_SECRET_HITS; i++) {
			const char *m = memmem(buf, len, d->forms[i].bytes,
			    d->forms[i].len);
			if (m != NULL) {
				h.sec_id[h.nsec] = (unsigned)i;
				h.sec_end[h.nsec++] = (size_t)(m - buf) +
				    d->forms[i].len;
			}
		}
	}
	if (want & DLP_WANT_PATTERNS) {
		for (i = 0; d->prefilter && i < DLP_SHAPE_COUNT; i++)
			if (d->shape_idx[i] >= 0)
				h.bits[d->shape_idx[i] / 64] |= 1ULL <<
				    (d->shape_idx[i] % 64);
		dlp_do_patterns(d, t, h.bits, d->prefilter, buf, len, where,
		    host, map, res);
	}
	if (want & DLP_WANT_SECRETS)
		for (i = 0; i < h.nsec; i++)
			dlp_secret_add(d, h.sec_id[i],
			    h.sec_end[i] - d->forms[h.sec_id[i]].len, where,
			    map, buf, res);
	if ((want & DLP_WANT_SEED) && d->seed_enabled &&
	    (!d->prefilter || t->reg[d->npats].n || t->reg[d->npats].full))
		dlp_do_seed(d, d->prefilter ? &t->reg[d->npats] : NULL, buf,
		    len, where, map, res);
	return res->blocked && !before ? 1 : 0;
fail:
	scan_result_add(res, "error", NULL, NULL, where, map->base, 1.0, 0,
	    NULL, 0, "DLP scan error");
	return -1;
}

int
dlp_scan(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, size_t base_offset,
    struct scan_result *res)
{
	struct dlp_map m = { NULL, 0, base_offset, 0, 0 };

	return dlp_pass(d, buf, len, where, host, &m, DLP_WANT_PATTERNS,
	    DLP_RSLOT_NONE, NULL, res);
}

int
dlp_scan_secrets(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, struct scan_result *res)
{
	struct dlp_map m = { NULL, 0, 0, 0, 0 };

	if (d->nforms == 0)
		return 0;
	return dlp_pass(d, buf, len, where, NULL, &m, DLP_WANT_SECRETS,
	    DLP_RSLOT_NONE, NULL, res);
}

int
dlp_scan_seed(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, struct scan_result *res)
{
	struct dlp_map m = { NULL, 0, 0, 0, 0 };
	int before = res->blocked;

	if (!d->seed_enabled)
		return 0;
	/* Short text: the word scan costs less than a Vectorscan pass. */
	if (len <= DLP_SEED_DIRECT) {
		dlp_do_seed(d, NULL, buf, len, where, &m, res);
		return res->blocked && !before ? 1 : 0;
	}
	return dlp_pass(d, buf, len, where, NULL, &m, DLP_WANT_SEED,
	    DLP_RSLOT_NONE, NULL, res);
}

/* Decoded text worth rescanning: mostly printable ASCII/UTF-8. */
static int
dlp_printable(const char *s, size_t n)
{
	size_t i, bad = 0, maxbad = n * (100 - DLP_PRINTABLE_PCT) / 100;
	unsigned char c;

	if (n < 4)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' ||
		    c == '\r' || c >= 0xc2) && ++bad > maxbad)
			return 0;	/* random bytes: stop early */
	}
	return 1;
}

/* Byte classes for encoded-run detection. */
#define C_TOK	0x1	/* token byte: base64 (std+url) alphabet, '=' or '.' */
#define C_B64	0x2
#define C_HEX	0x4
#define C_B32	0x8	/* A-Z a-z 2-7 = */
#define C_UP	0x10
#define C_LO	0x20
#define C_START	0x40	/* may start a run: token byte or '\\' */
#define C_HSEP	0x80	/* hex byte separator : - space , */

static unsigned char dlp_class[256];
/* dlp_class plus the bytes a token run looks at ('.', '/', '='). */
#define R_DOT	0x100
#define R_SLASH	0x200
#define R_EQ	0x400
static uint16_t dlp_rcls[256];
/* 1 for the bytes dlp_printable() counts as not text. */
static unsigned char dlp_unprint[256];
/* dlp_rcls of ASCII split in bytes, for the SIMD table lookups. */
static unsigned char dlp_rcls_lo[128], dlp_rcls_hi[128];

static void
dlp_class_init(void)
{
	int c;

	for (c = 0; c < 256; c++) {
		unsigned char k = 0;
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		int digit = c >= '0' && c <= '9';

		if (alpha || digit || c == '+' || c == '/' || c == '-' ||
		    c == '_' || c == '=')
			k |= C_TOK | C_B64;
		if (c == '.')
			k |= C_TOK;
		if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			k |= C_HEX;
		if (alpha || (c >= '2' && c <= '7') || c == '=')
			k |= C_B32;
		if (c >= 'A' && c <= 'Z')
			k |= C_UP;
		if (c >= 'a' && c <= 'z')
			k |= C_LO;
		if (((k & C_TOK) && c != '=') || c == '\\')
			k |= C_START;
		if (c == ':' || c == '-' || c == ' ' || c == ',')
			k |= C_HSEP;
		dlp_class[c] = k;
		dlp_unprint[c] = !((c >= 0x20 && c < 0x7f) || c == '\t' ||
		    c == '\n' || c == '\r' || c >= 0xc2);
		dlp_rcls[c] = (uint16_t)(k | (c == '.' ? R_DOT : 0) |
		    (c == '/' ? R_SLASH : 0) | (c == '=' ? R_EQ : 0));
		if (c < 128) {
			dlp_rcls_lo[c] = (unsigned char)dlp_rcls[c];
			dlp_rcls_hi[c] = (unsigned char)(dlp_rcls[c] >> 8);
		}
	}
}

/* Decode one run one way and rescan the result as a new layer. */
static int
dlp_layer(const struct dlp *d, const char *run, size_t rlen,
    size_t (*dec)(const char *, size_t, char *, size_t),
    enum scan_where where, const char *host, size_t off, int depth,
    struct scan_result *res)
{
	struct dlp_map m = { NULL, 0, off, 1, 0 };
	char buf[1024], *out = rlen <= sizeof(buf) ? buf : malloc(rlen);
	size_t n;
	int rc = 0;

	if (out == NULL)
		return -1;
	n = dec(run, rlen, out, rlen);
	if (n != (size_t)-1 && dlp_printable(out, n))
		rc = dlp_text(d, out, n, where, host, &m, depth + 1, res);
	if (out != buf)
		free(out);
	return rc;
}

/* Dots removed from a dotted token ("sk-ant.api03...", split hostnames). */
static int
dlp_dotless(const struct dlp *d, const char *run, size_t rlen,
    enum scan_where where, const char *host, size_t off,
    struct scan_result *res)
{
	struct dlp_map m = { NULL, 0, off, 1, 0 };
	char buf[1024], *out = rlen <= sizeof(buf) ? buf : malloc(rlen);
	size_t i, n = 0;
	int rc;

	if (out == NULL)
		return -1;
	for (i = 0; i < rlen; i++)
		if (run[i] != '.')
			out[n++] = run[i];
	rc = n == 0 ? 0 : dlp_pass(d, out, n, where, host, &m,
	    DLP_WANT_PATTERNS | DLP_WANT_SECRETS, DLP_RSLOT_NONE, NULL, res);
	if (out != buf)
		free(out);
	return rc;
}

/*
 * Would a token of hex digits only decode (norm_hex_decode) into text
 * dlp_printable() accepts?  Git SHAs and hashes are everywhere and decode
 * to random bytes: this answers without decoding, mostly after a few
 * pairs.
 */
static int
dlp_hex_printable(const char *t, size_t n)
{
	static const unsigned char hv[128] = {
		['0'] = 0, ['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4,
		['5'] = 5, ['6'] = 6, ['7'] = 7, ['8'] = 8, ['9'] = 9,
		['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13, ['e'] = 14,
		['f'] = 15, ['A'] = 10, ['B'] = 11, ['C'] = 12, ['D'] = 13,
		['E'] = 14, ['F'] = 15,
	};
	size_t i, e, bad = 0, maxbad = n / 2 * (100 - DLP_PRINTABLE_PCT) / 100;

	if (n % 2 || n / 2 < 4)
		return 0;	/* odd: not hex to the decoder; short: not text */
	/* Branch-free counts, 8 pairs at a time: random bytes stop early. */
	for (i = 0; i < n; i = e) {
		e = n - i > 16 ? i + 16 : n;
		for (; i < e; i += 2)
			bad += dlp_unprint[hv[t[i] & 0x7f] << 4 |
			    hv[t[i + 1] & 0x7f]];
		if (bad > maxbad)
			return 0;
	}
	return 1;
}

/*
 * Would dlp_token() try a decoding at all?  Most tokens of text (UUIDs,
 * one-case words) allow none: the call is spared.
 */
static inline int
dlp_token_any(unsigned k, unsigned seen)
{
	return (k & (C_HEX | C_B32)) || ((k & C_B64) &&
	    (seen & (C_UP | C_LO)) == (C_UP | C_LO));
}

/* Try every decoding the bytes of a token allow. */
static int
dlp_token(const struct dlp *d, const char *t, size_t n, unsigned char k,
    unsigned seen, enum scan_where where, const char *host, size_t off,
    int depth, struct scan_result *res)
{
	int rc = 0;

	/*
	 * base64 of text mixes cases; one-case words and hex do not (seen:
	 * the classes of the token's bytes ORed).
	 */
	if ((seen & (C_UP | C_LO)) != (C_UP | C_LO))
		k &= (unsigned char)~C_B64;

	if ((k & C_HEX) && dlp_hex_printable(t, n))
		rc = dlp_layer(d, t, n, norm_hex_decode, where, host, off,
		    depth, res);
	if (rc >= 0 && (k & C_B64))
		rc = dlp_layer(d, t, n, norm_b64_decode, where, host, off,
		    depth, res);
	if (rc >= 0 && (k & C_B32) && !(k & C_HEX))
		rc = dlp_layer(d, t, n, norm_b32_decode, where, host, off,
		    depth, res);
	return rc;
}

/*
 * Separator-delimited hex ("de:ad:be:ef", "\xde\xad", "0xde 0xad")
 * starting at i: end of the run, or i when there is none.
 */
static size_t
dlp_hexsep_end(const unsigned char *s, size_t len, size_t i)
{
	size_t j = i, pairs = 0, end = i;

	while (j < len) {
		if (j + 1 < len && (s[j] == '\\' || s[j] == '0') &&
		    (s[j + 1] | 0x20) == 'x')
			j += 2;
		if (j + 1 >= len || !(dlp_class[s[j]] & C_HEX) ||
		    !(dlp_class[s[j + 1]] & C_HEX))
			break;
		j += 2;
		pairs++;
		end = j;
		if (j < len && (s[j] == ':' || s[j] == '-' || s[j] == ' ' ||
		    s[j] == ','))
			j++;
		else if (!(j + 1 < len && (s[j] == '\\' || s[j] == '0') &&
		    (s[j + 1] | 0x20) == 'x'))
			break;
	}
	return pairs >= DLP_RUN_MIN / 2 ? end : i;
}

#ifdef DLP_X86
/* dlp_span() 64 bytes a step: two table lookups, then masks. */
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static inline size_t
dlp_span_avx512(const unsigned char *s, size_t j, size_t lim,
    unsigned stop, unsigned *kand, unsigned *kor)
{
	const unsigned char *lo = dlp_rcls_lo, *hi = dlp_rcls_hi;
	__m512i v, a, b;
	__mmask64 m, ok, run;
	unsigned ka = *kand, ko = *kor;
	size_t n;

#define DLP_K(x, bit)	_mm512_test_epi8_mask(x, _mm512_set1_epi8((char)(bit)))
	while (j < lim) {
		m = lim - j >= 64 ? ~0ULL : (1ULL << (lim - j)) - 1;
		v = _mm512_maskz_loadu_epi8(m, s + j);
		m &= ~_mm512_movepi8_mask(v);
		a = _mm512_maskz_permutex2var_epi8(m,
		    _mm512_loadu_si512(lo), v, _mm512_loadu_si512(lo + 64));
		b = _mm512_maskz_permutex2var_epi8(m,
		    _mm512_loadu_si512(hi), v, _mm512_loadu_si512(hi + 64));
		ok = DLP_K(a, C_TOK) & ~DLP_K(b, stop >> 8);
		n = ok == ~0ULL ? 64 : (size_t)__builtin_ctzll(~ok);
		run = n == 64 ? ~0ULL : (1ULL << n) - 1;
		/* Branch-free: a class is in kand if no run byte lacks it. */
		ka &= ~((unsigned)(((_mm512_test_epi8_mask(a,
		    _mm512_set1_epi8(C_B64)) & run) != run) * C_B64) |
		    (unsigned)(((DLP_K(a, C_HEX) & run) != run) * C_HEX) |
		    (unsigned)(((DLP_K(a, C_B32) & run) != run) * C_B32));
		ko |= (unsigned)(((DLP_K(a, C_UP) & run) != 0) * C_UP) |
		    (unsigned)(((DLP_K(a, C_LO) & run) != 0) * C_LO) |
		    (unsigned)(((DLP_K(b, R_DOT >> 8) & run) != 0) * R_DOT) |
		    (unsigned)(((DLP_K(b, R_SLASH >> 8) & run) != 0) *
		    R_SLASH);
		j += n;
		if (n < 64)
			break;
	}
#undef DLP_K
	*kand = ka;
	*kor = ko;
	return j < lim ? j : lim;
}
#endif

/* Class masks of up to 64 bytes of a token run (bit n: byte j + n). */
struct dlp_chunk {
	uint64_t	tok, eq, b64, hex, b32, up, lo, dot, slash;
};

#ifdef DLP_X86
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static inline void
dlp_chunk_avx512(const unsigned char *s, size_t j, size_t lim,
    struct dlp_chunk *ch)
{
	const unsigned char *lo = dlp_rcls_lo, *hi = dlp_rcls_hi;
	__mmask64 m = lim - j >= 64 ? ~0ULL : (1ULL << (lim - j)) - 1;
	__m512i v, a, b;

	v = _mm512_maskz_loadu_epi8(m, s + j);
	m &= ~_mm512_movepi8_mask(v);
	a = _mm512_maskz_permutex2var_epi8(m, _mm512_loadu_si512(lo), v,
	    _mm512_loadu_si512(lo + 64));
	b = _mm512_maskz_permutex2var_epi8(m, _mm512_loadu_si512(hi), v,
	    _mm512_loadu_si512(hi + 64));
#define DLP_K(x, bit)	_mm512_test_epi8_mask(x, _mm512_set1_epi8((char)(bit)))
	ch->tok = DLP_K(a, C_TOK);
	ch->b64 = DLP_K(a, C_B64);
	ch->hex = DLP_K(a, C_HEX);
	ch->b32 = DLP_K(a, C_B32);
	ch->up = DLP_K(a, C_UP);
	ch->lo = DLP_K(a, C_LO);
	ch->eq = DLP_K(b, R_EQ >> 8);
	ch->dot = DLP_K(b, R_DOT >> 8);
	ch->slash = DLP_K(b, R_SLASH >> 8);
#undef DLP_K
}
#endif

/* kand/kor (see dlp_span()) of the chunk bytes in mask m. */
static inline void
dlp_chunk_classes(const struct dlp_chunk *ch, uint64_t m, unsigned *kand,
    unsigned *kor)
{
	*kand = ((ch->b64 & m) == m ? C_B64 : 0) |
	    ((ch->hex & m) == m ? C_HEX : 0) | ((ch->b32 & m) == m ? C_B32 : 0);
	*kor = (ch->up & m ? C_UP : 0) | (ch->lo & m ? C_LO : 0) |
	    (ch->dot & m ? R_DOT : 0) | (ch->slash & m ? R_SLASH : 0);
}

/*
 * The token run at i when it ends within 64 bytes: its end into *j, its
 * classes, and the chunk for its pieces.  0 when there is no SIMD path
 * or the run is longer (the byte loop then does it).
 */
static inline __attribute__((always_inline)) int
dlp_run_chunk(const struct dlp *d, const unsigned char *s, size_t len,
    size_t i, size_t lim, struct dlp_chunk *ch, size_t *j, unsigned *kand,
    unsigned *kor)
{
#ifdef DLP_X86
	uint64_t e, m;
	size_t n, b;

	if (!dlp_simd || !d->prefilter)
		return 0;
	dlp_chunk_avx512(s, i, lim, ch);
	n = ch->tok == ~0ULL ? 64 : (size_t)__builtin_ctzll(~ch->tok);
	if (n == 64 && lim - i > 64)
		return 0;
	/* '=' ends a token unless it is padding ("k=v"). */
	for (e = ch->eq & (n == 64 ? ~0ULL : (1ULL << n) - 1); e; e &= e - 1) {
		b = (size_t)__builtin_ctzll(e);
		if (i + b + 1 < len && s[i + b + 1] != '=' &&
		    (dlp_class[s[i + b + 1]] & C_TOK)) {
			n = b;
			break;
		}
	}
	m = n == 64 ? ~0ULL : (1ULL << n) - 1;
	dlp_chunk_classes(ch, m, kand, kor);
	*j = i + n;
	return 1;
#else
	return 0;
#endif
}

/*
 * The end of the piece that starts at *pp and ends at the first '.' or
 * '/' in [*pp, lim), or at lim.  The SIMD path also skips the pieces
 * shorter than DLP_RUN_MIN (the caller passes over them anyway), moving
 * *pp to the first one that is not: a long URL is mostly short pieces,
 * and walking its separator masks beats one load per piece.
 */
#ifdef DLP_X86
__attribute__((target("avx512f,avx512bw")))
static inline size_t
dlp_piece_end_avx512(const unsigned char *s, size_t *pp, size_t lim)
{
	size_t p = *pp, b, x;
	__mmask64 m, hit;
	__m512i v;

	for (b = p; b < lim; b += 64) {
		m = lim - b >= 64 ? ~0ULL : (1ULL << (lim - b)) - 1;
		v = _mm512_maskz_loadu_epi8(m, s + b);
		hit = (_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('.')) |
		    _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('/'))) & m;
		for (; hit; hit &= hit - 1) {
			x = b + (size_t)__builtin_ctzll(hit);
			if (x - p >= DLP_RUN_MIN) {
				*pp = p;
				return x;
			}
			p = x + 1;
		}
	}
	*pp = p;
	return lim;
}
#endif

static inline __attribute__((always_inline)) size_t
dlp_piece_end(const struct dlp *d, const unsigned char *s, size_t *pp,
    size_t lim)
{
	size_t p = *pp;

#ifdef DLP_X86
	if (dlp_simd && d->prefilter)
		return dlp_piece_end_avx512(s, pp, lim);
#endif
	while (p < lim && s[p] != '.' && s[p] != '/')
		p++;
	return p;
}

/*
 * From j up to lim, the bytes that are token bytes and in none of the
 * classes `stop`: returns where they end, ANDs their classes into *kand
 * and ORs them into *kor.  PCRE2-only mode (the tests' reference) keeps
 * the plain loop.
 */
static inline __attribute__((always_inline)) size_t
dlp_span(const struct dlp *d, const unsigned char *s, size_t j, size_t lim,
    unsigned stop, unsigned *kand, unsigned *kor)
{
	unsigned c;

#ifdef DLP_X86
	if (dlp_simd && d->prefilter)
		return dlp_span_avx512(s, j, lim, stop, kand, kor);
#endif
	for (; j < lim; j++) {
		c = dlp_rcls[s[j]];
		if (!(c & C_TOK) || (c & stop))
			break;
		*kand &= c;
		*kor |= c;
	}
	return j;
}

/*
 * Find encoded and dotted runs in buf from `from` (0, or a point a scan
 * from 0 stands on: see dlp_runs_sync()) until `to`, and rescan their
 * decodings.  Returns where the scan stopped (at or after `to`); *rcp
 * gets -1 on an internal error.
 */
static inline __attribute__((always_inline)) size_t
dlp_runs_range(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, const struct dlp_map *map,
    int depth, struct scan_result *res, size_t from, size_t to, int *rcp)
{
	const unsigned char *s = (const unsigned char *)buf;
	struct dlp_chunk ch;
	size_t i = from, j, p, q, hx, lim, pb, qb = 0;
	unsigned kand, kor;
	unsigned char k, c;
	uint64_t sep, ns;
	int rc = 0, dots, slashes, inchunk, pieces;

	/*
	 * ch.dot, ch.slash and qb are read only when inchunk, which sets them;
	 * gcc -O1/-Og cannot see that and warns.
	 */
	ch.dot = ch.slash = 0;
	while (i < len && i < to && rc >= 0) {
		/* Most bytes of text start nothing: skip them in a tight loop. */
		while (i < len && !(dlp_class[s[i]] & C_START))
			i++;
		if (i >= len)
			break;
		c = dlp_class[s[i]];
		/* Separated hex has a separator or an 'x' within 3 bytes. */
		if (((c & C_HEX) || s[i] == '\\') && i + 2 < len &&
		    ((s[i + 1] | 0x20) == 'x' || (dlp_class[s[i + 2]] & C_HSEP))) {
			hx = dlp_hexsep_end(s, len, i);
			if (hx > i) {
				rc = dlp_layer(d, buf + i, hx - i,
				    norm_hex_decode, where, host,
				    dlp_map_off(map, i), depth, res);
				i = hx;
				continue;
			}
		}
		/* The run, the classes all its bytes have and any byte has. */
		kand = C_B64 | C_HEX | C_B32;
		kor = 0;
		lim = len - i > DLP_RUN_MAX ? i + DLP_RUN_MAX : len;
		inchunk = dlp_run_chunk(d, s, len, i, lim, &ch, &j, &kand,
		    &kor);
		for (j = inchunk ? j : i; !inchunk; j++) {
			j = dlp_span(d, s, j, lim, R_EQ, &kand, &kor);
			/* '=' ends a token unless it is padding ("k=v"). */
			if (j >= lim || s[j] != '=' || (j + 1 < len &&
			    s[j + 1] != '=' && (dlp_class[s[j + 1]] & C_TOK)))
				break;
			kand &= dlp_rcls['='];
			kor |= dlp_rcls['='];
		}
		k = (unsigned char)kand;
		dots = (kor & R_DOT) != 0;
		slashes = (kor & R_SLASH) != 0;
		if (j == i) {
			i++;
			continue;
		}
		if (j - i >= DLP_RUN_MIN) {
			size_t off = dlp_map_off(map, i);

			/* Dotted names and split tokens; URLs go by pieces. */
			if (dots && !slashes)
				rc = dlp_dotless(d, buf + i, j - i, where, host,
				    off, res);
			else if (dots)
				rc = 0;
			else
				rc = dlp_token_any(k, kor) ? dlp_token(d,
				    buf + i, j - i, k, kor, where, host, off,
				    depth, res) : 0;
			/*
			 * Pieces between '.' and '/' (path segments, JWT parts):
			 * their classes only for the pieces long enough to try,
			 * and none when the masks show no 16 bytes without a
			 * separator (bit b of ns: bytes b..b+15 are not one).
			 */
			pieces = dots || slashes;
			if (pieces && inchunk) {
				ns = ~(ch.dot | ch.slash);
				if (j - i < 64)
					ns &= (1ULL << (j - i)) - 1;
				ns &= ns >> 1;
				ns &= ns >> 2;
				ns &= ns >> 4;
				ns &= ns >> 8;
				pieces = ns != 0;
			}
			for (p = i; pieces && rc >= 0 && p < j; p = q + 1) {
				pb = p - i;
				if (inchunk) {
					/* j - i <= 64: the piece from masks. */
					sep = (ch.dot | ch.slash) >> pb;
					qb = sep ? pb + (size_t)__builtin_ctzll(sep) :
					    j - i;
					if (qb > j - i)
						qb = j - i;
					q = i + qb;
				} else
					q = dlp_piece_end(d, s, &p, j);
				if (q - p < DLP_RUN_MIN || q - p >= j - i)
					continue;
				kand = C_B64 | C_HEX | C_B32;
				kor = 0;
				if (inchunk)
					dlp_chunk_classes(&ch, (qb == 64 ? ~0ULL :
					    (1ULL << qb) - 1) & ~((1ULL << pb) - 1),
					    &kand, &kor);
				else
					(void)dlp_span(d, s, p, q, R_DOT | R_SLASH,
					    &kand, &kor);
				rc = dlp_token_any(kand, kor) ? dlp_token(d,
				    buf + p, q - p, (unsigned char)kand, kor,
				    where, host, dlp_map_off(map, p), depth,
				    res) : 0;
			}
		}
		i = j;
	}
	*rcp = rc;
	return i;
}

/*
 * The latest point at or before p (not before lo, where the scan stands)
 * that a scan from 0 stands on: after a byte that is neither a token byte
 * nor '\\', before every hex-and-separator byte leading to p (a
 * separated hex run that triggered at p starts there).
 */
static inline __attribute__((always_inline)) size_t
dlp_runs_sync(const unsigned char *s, size_t p, size_t lo, int hex)
{
	size_t x = p;

	/* A token run's trigger is its 16th byte. */
	if (!hex)
		x = p - lo > DLP_RUN_MIN - 1 ? p - (DLP_RUN_MIN - 1) : lo;
	while (hex && x > lo && ((dlp_class[s[x - 1]] & (C_HEX | C_HSEP)) ||
	    s[x - 1] == '\\' || (s[x - 1] | 0x20) == 'x'))
		x--;
	while (x > lo && ((dlp_class[s[x - 1]] & C_TOK) || s[x - 1] == '\\'))
		x--;
	return x;
}

#ifdef DLP_X86
/*
 * dlp_hex_printable() of n (16..62) hex digits in one step: the digits'
 * values by one lookup (their low 6 bits tell them apart), byte pairs
 * joined by a multiply-add, and the not-text bytes counted in a mask.
 * Hashes are a fifth of the runs in text.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi,popcnt")))
static inline int
dlp_hex_printable_avx512(const unsigned char *t, size_t n)
{
	static const unsigned char hv[64] __attribute__((aligned(64))) = {
		[0x30] = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
		[0x01] = 10, 11, 12, 13, 14, 15,
		[0x21] = 10, 11, 12, 13, 14, 15,
	};
	__m512i v, b;
	__mmask32 bad;
	size_t pairs = n / 2;

	if (n % 2 || pairs < 4)
		return 0;
	v = _mm512_maskz_loadu_epi8((1ULL << n) - 1, t);
	v = _mm512_permutexvar_epi8(v, _mm512_load_si512(hv));
	/* 16-bit lane k: the byte pair k decodes to. */
	b = _mm512_maddubs_epi16(v, _mm512_set1_epi16(0x0110));
	/* Not text: below ' ' but tab/LF/CR, and 0x7f..0xc1. */
	bad = (_mm512_cmplt_epu16_mask(b, _mm512_set1_epi16(0x20)) &
	    ~(_mm512_cmpeq_epi16_mask(b, _mm512_set1_epi16('\t')) |
	    _mm512_cmpeq_epi16_mask(b, _mm512_set1_epi16('\n')) |
	    _mm512_cmpeq_epi16_mask(b, _mm512_set1_epi16('\r')))) |
	    _mm512_cmplt_epu16_mask(_mm512_sub_epi16(b,
	    _mm512_set1_epi16(0x7f)), _mm512_set1_epi16(0xc2 - 0x7f));
	return (size_t)_mm_popcnt_u32((unsigned)bad &
	    (unsigned)((1ULL << pairs) - 1)) <=
	    pairs * (100 - DLP_PRINTABLE_PCT) / 100;
}

/*
 * 1 if dlp_token() would do nothing with the n bytes at t, the chunk
 * bytes in mask m (see dlp_token_any()).  Hex decodes only to text
 * dlp_hex_printable() accepts.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi,popcnt")))
static inline int
dlp_mask_quiet(const struct dlp_chunk *ch, uint64_t m, const unsigned char *t,
    size_t n)
{
	int hex = (ch->hex & m) == m, b32 = (ch->b32 & m) == m;

	if (((ch->b64 & m) == m && (ch->up & m) && (ch->lo & m)) ||
	    (b32 && !hex))
		return 0;
	return !hex || !dlp_hex_printable_avx512(t, n);
}

/*
 * 1 if the token run of the n (16..62) chunk bytes at t, bit b of the
 * chunk being t[b], gives nothing in dlp_runs_range(): no dotless pass,
 * nothing to decode in the whole run or in a piece between '.' and '/'.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi,popcnt")))
static inline int
dlp_run_quiet(const struct dlp_chunk *ch, const unsigned char *t, size_t n)
{
	uint64_t run = (1ULL << n) - 1, sep = (ch->dot | ch->slash) & run, ns;
	size_t p, q;

	if ((ch->dot & run) && !(ch->slash & run))
		return 0;
	if (!(ch->dot & run) && !dlp_mask_quiet(ch, run, t, n))
		return 0;
	if (sep == 0)
		return 1;
	/* Bit b of ns: bytes b..b+15 hold no separator. */
	ns = ~sep & run;
	ns &= ns >> 1;
	ns &= ns >> 2;
	ns &= ns >> 4;
	ns &= ns >> 8;
	for (p = 0; ns != 0 && p < n; p = q + 1) {
		q = sep >> p ? p + (size_t)__builtin_ctzll(sep >> p) : n;
		if (q - p >= DLP_RUN_MIN && !dlp_mask_quiet(ch,
		    ((1ULL << q) - 1) & ~((1ULL << p) - 1), t + p, q - p))
			return 0;
	}
	return 1;
}

/*
 * The chunk at ps into pc: the masks of ch (the chunk at c) shifted when
 * ps lies in it, since a piece ending in ch needs no bit past it.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static inline void
dlp_chunk_from(struct dlp_chunk *pc, const struct dlp_chunk *ch,
    const unsigned char *s, size_t c, size_t ps, size_t len)
{
	size_t k = ps - c;

	if (ps < c) {
		dlp_chunk_avx512(s, ps, len, pc);
		return;
	}
	pc->tok = ch->tok >> k;
	pc->eq = ch->eq >> k;
	pc->b64 = ch->b64 >> k;
	pc->hex = ch->hex >> k;
	pc->b32 = ch->b32 >> k;
	pc->up = ch->up >> k;
	pc->lo = ch->lo >> k;
	pc->dot = ch->dot >> k;
	pc->slash = ch->slash >> k;
}

/* Most 64-byte chunks a long run may take before the general loop does it. */
#define DLP_SKIP_CHUNKS	8

/*
 * dlp_run_quiet() of the run at x when it is longer than a chunk: its
 * length into *np and whether an '=' ends it into *termp, or 0 when it is
 * not quiet or the masks cannot tell (pieces or hex of 63 bytes or more,
 * runs of more than DLP_SKIP_CHUNKS chunks).  Long runs are URLs: their
 * classes and separators are gathered a chunk at a time, and each piece
 * of 16 bytes or more is judged from a chunk loaded where it starts.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi,popcnt")))
static inline int
dlp_run_quiet_long(const unsigned char *s, size_t len, size_t x,
    size_t *np, int *termp)
{
	struct dlp_chunk ch, pc;
	uint64_t m, term, sep, nt, ne, all = C_B64 | C_HEX | C_B32, any = 0;
	size_t c, k, b, n, ps = x, nsep = 0;

	for (c = x, k = 0; k < DLP_SKIP_CHUNKS; k++, c += 64) {
		dlp_chunk_avx512(s, c, len, &ch);
		/* Byte c + 64, for an '=' at bit 63. */
		nt = c + 64 < len && (dlp_class[s[c + 64]] & C_TOK);
		ne = c + 64 < len && s[c + 64] == '=';
		n = ch.tok == ~0ULL ? 64 : (size_t)__builtin_ctzll(~ch.tok);
		term = ch.eq & (ch.tok >> 1 | nt << 63) &
		    ~(ch.eq >> 1 | ne << 63);
		m = n == 64 ? ~0ULL : (1ULL << n) - 1;
		if (term & m)
			n = (size_t)__builtin_ctzll(term & m);
		m = n == 64 ? ~0ULL : (1ULL << n) - 1;
		all &= ((ch.b64 & m) == m ? C_B64 : 0) |
		    ((ch.hex & m) == m ? C_HEX : 0) |
		    ((ch.b32 & m) == m ? C_B32 : 0);
		any |= (ch.up & m ? C_UP : 0) | (ch.lo & m ? C_LO : 0) |
		    (ch.dot & m ? R_DOT : 0) | (ch.slash & m ? R_SLASH : 0);
		for (sep = (ch.dot | ch.slash) & m; sep; sep &= sep - 1) {
			b = c + (size_t)__builtin_ctzll(sep);
			nsep++;
			if (b - ps >= 63)
				return 0;
			if (b - ps >= DLP_RUN_MIN) {
				dlp_chunk_from(&pc, &ch, s, c, ps, len);
				if (!dlp_mask_quiet(&pc, (1ULL << (b - ps)) - 1,
				    s + ps, b - ps))
					return 0;
			}
			ps = b + 1;
		}
		if (n < 64) {
			*np = c + n - x;
			*termp = (int)(term >> n & 1);
			break;
		}
	}
	if (k == DLP_SKIP_CHUNKS)
		return 0;
	/* The last piece; then the whole run as dlp_runs_range() sees it. */
	b = x + *np;
	if (nsep && b - ps >= 63)
		return 0;
	if (nsep && b - ps >= DLP_RUN_MIN) {
		dlp_chunk_from(&pc, &ch, s, c, ps, len);
		if (!dlp_mask_quiet(&pc, (1ULL << (b - ps)) - 1, s + ps,
		    b - ps))
			return 0;
	}
	if ((any & R_DOT) && !(any & R_SLASH))
		return 0;
	return (any & R_DOT) || !((all & (C_HEX | C_B32)) ||
	    ((all & C_B64) && (any & (C_UP | C_LO)) == (C_UP | C_LO)));
}

/*
 * dlp_runs_range(from x, to p + 1) as far as its runs give nothing,
 * decided from one chunk's masks per run: three runs in four of text
 * (UUIDs, URLs of short pieces, hashes) then skip the general loop and its
 * data-dependent branches.  Returns where that call would return, with
 * *done set, or the point from which the call must go on (every case this
 * does not follow exactly: separated hex, '\\', runs of 63 bytes or more,
 * anything to decode).
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi,popcnt")))
static inline size_t
dlp_runs_skip(const unsigned char *s, size_t len, size_t x, size_t p,
    int *done)
{
	struct dlp_chunk ch;
	uint64_t term;
	unsigned c;
	size_t n;
	int lterm;

	*done = 0;
	for (;;) {
		/* The run at x starts with a token byte, no hex-and-sep. */
		c = dlp_class[s[x]];
		if (!(c & C_TOK) || s[x] == '=' || ((c & C_HEX) &&
		    x + 2 < len && ((s[x + 1] | 0x20) == 'x' ||
		    (dlp_class[s[x + 2]] & C_HSEP))))
			return x;
		dlp_chunk_avx512(s, x, len, &ch);
		n = (size_t)__builtin_ctzll(~ch.tok | (1ULL << 63));
		/* '=' ends a token unless it is padding ("k=v"). */
		term = ch.eq & (ch.tok >> 1) & ~(ch.eq >> 1) &
		    ((1ULL << n) - 1);
		if (term)
			n = (size_t)__builtin_ctzll(term);
		if (n == 63) {
			if (!dlp_run_quiet_long(s, len, x, &n, &lterm))
				return x;
			term = (uint64_t)lterm;
		} else if (n >= DLP_RUN_MIN && !dlp_run_quiet(&ch, s + x, n))
			return x;
		x += n;
		if (x > p) {
			*done = 1;
			return x;
		}
		/* Before p only a '\\' or an '=' that ends a token end it. */
		if (!term)
			return x;
		x++;
	}
}

/*
 * The trigger loop of dlp_runs(), compiled for the SIMD path so that the
 * AVX-512 helpers of the run finder inline into it: thousands of runs per
 * MiB of text each paid a call and a vzeroupper.
 */
__attribute__((target(
    "avx512f,avx512bw,avx512vbmi,avx512vbmi2,gfni,popcnt")))
static int
dlp_runs_trig(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, const struct dlp_map *map,
    int depth, struct scan_result *res, const uint64_t *rt)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0, w, p, x, nw = (len + 63) / 64;
	const uint64_t *ht = rt + nw;
	uint64_t bits;
	int rc = 0, hex, done;

	for (w = 0; w < nw; w++) {
		bits = (rt[w] | ht[w]) & dlp_from_mask(i, w);
		while (bits) {
			p = w * 64 + (size_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (p < i)
				continue;
			hex = (int)(ht[w] >> (p % 64) & 1);
			x = dlp_runs_sync(s, p, i, hex);
			done = 0;
			if (!hex)
				x = dlp_runs_skip(s, len, x, p, &done);
			i = done ? x : dlp_runs_range(d, buf, len, where, host,
			    map, depth, res, x, p + 1, &rc);
			if (rc < 0)
				return rc;
			if (i >= (w + 1) * 64)
				break;
			bits &= ~0ULL << (i - w * 64);
		}
	}
	return rc;
}
#endif

/* Encoded runs: from each trigger's sync point, or over every byte. */
static int
dlp_runs(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, const struct dlp_map *map,
    int depth, struct scan_result *res, const uint64_t *rt)
{
	int rc = 0;

#ifdef DLP_X86
	if (rt != NULL)
		return dlp_runs_trig(d, buf, len, where, host, map, depth, res,
		    rt);
#endif
	dlp_runs_range(d, buf, len, where, host, map, depth, res, 0, len, &rc);
	return rc;
}

/*
 * The text pipeline over buf (already a layer: normalised or decoded):
 * one pass for patterns, secrets and seed phrases, then %-decoding and
 * encoded runs, each rescanned as a deeper layer.
 */
static int
dlp_text(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, const struct dlp_map *map,
    int depth, struct scan_result *res)
{
	const uint64_t *rt;
	struct dlp_map m;
	char *dec;
	size_t n;
	int rc, pct;

	if (depth >= DLP_DEPTH_MAX)
		return dlp_pass(d, buf, len, where, host, map, DLP_WANT_ALL,
		    DLP_RSLOT_NONE, NULL, res) < 0 ? -1 : 0;
	/* dlp_scan_text() may know about '%' from its trigger pass. */
	pct = depth == 0 && dlp_tls.prepct >= 0 ? dlp_tls.prepct :
	    memchr(buf, '%', len) != NULL;
	dlp_tls.prepct = -1;
	if ((rc = dlp_pass(d, buf, len, where, host, map, DLP_WANT_ALL,
	    depth, &rt, res)) < 0)
		return rc;
	if (pct) {
		if ((dec = malloc(len)) == NULL)
			return -1;
		n = norm_pct_decode_iter(buf, len, dec, 0);
		m = *map;
		m.fixed = 1;
		if (!map->fixed)
			m.base = dlp_map_off(map, 0);
		if (n != len || memcmp(dec, buf, n) != 0)
			rc = dlp_text(d, dec, n, where, host, &m, depth + 1,
			    res);
		free(dec);
		if (rc < 0)
			return rc;
	}
	return dlp_runs(d, buf, len, where, host, map, depth, res, rt);
}

/*
 * The trigger pass of dlp_scan_text()'s input, ahead of its first pass:
 * 1 if it is plain text, its bitmaps kept for that pass (t->pre).  0 if
 * not plain (t->pre set: no need to ask again) or when there is no SIMD
 * path or no scratch (t->pre NULL: norm_text_plain() decides).
 */
static int
dlp_pretrig(const struct dlp *d, const char *buf, size_t len)
{
	struct dlp_tls *t;
	uint64_t *rt, *st;
	unsigned flags;

#ifdef DLP_X86
	if (!dlp_simd)
		return 0;
#endif
	if (!d->prefilter || len == 0 || (t = dlp_tls_get(d)) == NULL)
		return 0;
	rt = dlp_bitmap(&t->truns[0], &t->ntruns[0], (len + 63) / 64 * 128);
	st = dlp_bitmap(&t->tshape, &t->ntshape, (len + 63) / 64 * 128);
	if (rt == NULL || st == NULL ||
	    dlp_trig(buf, len, rt, st, &flags) == -1)
		return 0;
	t->pre = buf;
	t->prelen = len;
	if (flags & DLP_TF_UNPLAIN)
		return 0;
	t->prepct = (flags & DLP_TF_PCT) != 0;
	return 1;
}

int
dlp_scan_text(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, size_t base_offset,
    struct scan_result *res)
{
	struct dlp_map m = { NULL, 0, base_offset, 0, 0 };
	struct dlp_tls *t = &dlp_tls;
	char *norm;
	size_t n;
	int rc;

	t->pre = NULL;
	t->prepct = -1;
	/*
	 * Plain ASCII text normalises to itself: no copy.  The SIMD trigger
	 * pass says so on its way (it is the first look at the bytes), and
	 * its bitmaps serve the first pass.
	 */
	if (dlp_pretrig(d, buf, len)) {
		rc = dlp_text(d, buf, len, where, host, &m, 0, res);
		goto done;
	}
	if (t->pre == NULL && norm_text_plain(buf, len)) {
		rc = dlp_text(d, buf, len, where, host, &m, 0, res);
		goto done;
	}
	t->pre = NULL;
	t->prepct = -1;
	/* The normalised copy lives in a per-thread buffer: no page faults. */
	if (t->normcap < len || t->norm == NULL) {
		free(t->norm);
		t->normcap = len > DLP_NORM_MIN ? len : DLP_NORM_MIN;
		if ((t->norm = malloc(t->normcap)) == NULL) {
			t->normcap = 0;
			scan_result_add(res, "error", NULL, NULL, where,
			    base_offset, 1.0, 0, NULL, 0,
			    "DLP scan error: out of memory");
			return -1;
		}
	}
	norm = t->norm;
	/* Every rule shrinks its input: same length means unchanged. */
	n = norm_for_text(buf, len, norm);
	if (n != len) {
		m.src = buf;
		m.srclen = len;
		m.keep_ws = 1;
		rc = dlp_text(d, norm, n, where, host, &m, 0, res);
	} else
		rc = dlp_text(d, buf, len, where, host, &m, 0, res);
done:
	t->pre = NULL;
	t->prepct = -1;
	if (t->normcap > DLP_NORM_KEEP) {
		free(t->norm);
		t->norm = NULL;
		t->normcap = 0;
	}
	if (rc < 0) {
		if (!dlp_reported(res, "error", NULL, NULL))
			scan_result_add(res, "error", NULL, NULL, where,
			    base_offset, 1.0, 0, NULL, 0, "DLP scan error");
		return -1;
	}
	return res->blocked ? 1 : 0;
}
