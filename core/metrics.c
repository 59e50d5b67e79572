/*
 * metrics.c - lock-free Prometheus metrics (see metrics.h).
 *
 * Each labelled family owns a fixed open-addressed table of
 * METRICS_TABLE_SLOTS series (twice the label-set bound, so probes stay
 * short).  A slot goes EMPTY -> BUSY (claimed by CAS, labels copied) ->
 * READY and never back, which is what makes lookups safe without a lock: a
 * READY slot's labels are immutable.  The count of claimed slots is bumped
 * before claiming, so the bound holds under races; a loser gives its
 * reservation back.
 */
#include "core/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"

#define METRICS_TABLE_SLOTS	(2 * METRICS_MAX_SERIES)	/* power of 2 */
#define METRICS_OTHER		"other"
#define METRICS_OVERFLOW_NAME	"pipelock_metrics_label_overflow_total"

enum slot_state {
	SLOT_EMPTY = 0,
	SLOT_BUSY,
	SLOT_READY,
	SLOT_DEAD,	/* claim failed (ENOMEM): skipped forever */
};

struct series {
	_Atomic int		state;
	uint64_t		hash;
	char			*lv[METRICS_MAX_LABELS];
	_Atomic uint64_t	count;		/* counter value */
	_Atomic int64_t		gauge;
	_Atomic uint64_t	sum_bits;	/* sum, a double's bits */
	/* histogram: per-bucket (not cumulative) counts; last one is +Inf */
	_Atomic uint64_t	buckets[METRICS_MAX_BUCKETS + 1];
};

struct metric {
	char			*name;
	char			*help;
	enum metric_type	 type;
	unsigned		 nlabels;
	char			*labels[METRICS_MAX_LABELS];
	double			 bounds[METRICS_MAX_BUCKETS];
	size_t			 nbounds;
	struct series		*table;		/* 1 slot when unlabelled */
	struct series		 other;
	_Atomic unsigned	 nseries;
	_Atomic uint64_t	 overflows;
};

struct metrics {
	struct metric		*fam[METRICS_MAX_FAMILIES];
	_Atomic size_t		 n;
};

/* ---- label values ---- */

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (len > n)
		return 0;
	cp = s[0] & (0x3f >> (len - 1));
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Copy v into dst as a label value: valid UTF-8, controls and invalid bytes
 * replaced by '?', cut on a character boundary below METRICS_MAX_VALUE.
 * Lookups compare the cleaned form, so a long or dirty value always maps to
 * the same series.
 */
static void
lv_clean(const char *v, char dst[METRICS_MAX_VALUE])
{
	const unsigned char *s = (const unsigned char *)(v ? v : "");
	size_t o = 0, n = strlen((const char *)s), i = 0, k;

	while (i < n) {
		if (s[i] >= 0x80) {
			k = utf8_seq(s + i, n - i);
			if (k == 0) {
				if (o + 1 >= METRICS_MAX_VALUE)
					break;
				dst[o++] = '?';
				i++;
				continue;
			}
			if (o + k >= METRICS_MAX_VALUE)
				break;
			memcpy(dst + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		if (o + 1 >= METRICS_MAX_VALUE)
			break;
		dst[o++] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
		i++;
	}
	dst[o] = '\0';
}

static uint64_t
lv_hash(char cv[][METRICS_MAX_VALUE], unsigned n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned i;
	const char *p;

	for (i = 0; i < n; i++) {
		for (p = cv[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL;	/* separator */
	}
	return h;
}

/* ---- families ---- */

static void
metric_free(struct metric *m)
{
	unsigned i, j;
	size_t nslots;

	if (m == NULL)
		return;
	nslots = m->nlabels ? METRICS_TABLE_SLOTS : 1;
	if (m->table != NULL)
		for (i = 0; i < nslots; i++)
			for (j = 0; j < METRICS_MAX_LABELS; j++)
				free(m->table[i].lv[j]);
	for (j = 0; j < METRICS_MAX_LABELS; j++) {
		free(m->labels[j]);
		free(m->other.lv[j]);
	}
	free(m->table);
	free(m->name);
	free(m->help);
	free(m);
}

static int
name_valid(const char *s, int colon)
{
	const char *p;

	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' ||
		    (colon && *p == ':')))
			return 0;
	return 1;
}

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < atomic_load(&r->n); i++)
		metric_free(r->fam[i]);
	free(r);
}

struct metric *
metrics_add(struct metrics *r, const char *name, const char *help,
    enum metric_type type, const char *const *labels, const double *buckets,
    size_t nbuckets)
{
	struct metric *m = NULL;
	size_t i, n;
	int err = EINVAL;

	if (r == NULL || !name_valid(name, 1) ||
	    (n = atomic_load(&r->n)) >= METRICS_MAX_FAMILIES)
		goto fail;
	if (type == METRIC_HISTOGRAM) {
		if (buckets == NULL || nbuckets == 0 ||
		    nbuckets > METRICS_MAX_BUCKETS)
			goto fail;
		for (i = 0; i < nbuckets; i++)
			if (!isfinite(buckets[i]) ||
			    (i > 0 && buckets[i] <= buckets[i - 1]))
				goto fail;
	} else if (nbuckets != 0)
		goto fail;
	err = ENOMEM;		/* every later failure but a bad label name */
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto fail;
	m->type = type;
	if ((m->name = strdup(name)) == NULL ||
	    (m->help = strdup(help ? help : "")) == NULL)
		goto fail;
	for (i = 0; labels != NULL && labels[i] != NULL; i++) {
		/* "le" is the histogram's own label */
		if (i == METRICS_MAX_LABELS || !name_valid(labels[i], 0) ||
		    strncmp(labels[i], "__", 2) == 0 ||
		    strcmp(labels[i], "le") == 0) {
			err = EINVAL;
			goto fail;
		}
		if ((m->labels[i] = strdup(labels[i])) == NULL ||
		    (m->other.lv[i] = strdup(METRICS_OTHER)) == NULL)
			goto fail;
	}
	m->nlabels = (unsigned)i;
	if (nbuckets > 0)
		memcpy(m->bounds, buckets, nbuckets * sizeof(double));
	m->nbounds = nbuckets;
	m->table = calloc(m->nlabels ? METRICS_TABLE_SLOTS : 1,
	    sizeof(struct series));
	if (m->table == NULL)
		goto fail;
	if (m->nlabels == 0)
		atomic_store(&m->table[0].state, SLOT_READY);
	atomic_store(&m->other.state, SLOT_READY);
	r->fam[n] = m;
	atomic_store(&r->n, n + 1);
	return m;
fail:
	metric_free(m);
	errno = err;
	return NULL;
}

struct metric *
metrics_find(struct metrics *r, const char *name)
{
	size_t i, n;

	if (r == NULL || name == NULL)
		return NULL;
	n = atomic_load(&r->n);
	for (i = 0; i < n; i++)
		if (strcmp(r->fam[i]->name, name) == 0)
			return r->fam[i];
	return NULL;
}

/*
 * The series of lv, created on first use when create is set.  Never NULL
 * when create is set: overflow and allocation failure fall back to "other".
 */
static struct series *
series_find(struct metric *m, const char *const *lv, int create)
{
	char cv[METRICS_MAX_LABELS][METRICS_MAX_VALUE];
	struct series *s;
	uint64_t h;
	unsigned i, j, idx;
	int st, expect;

	if (m->nlabels == 0)
		return &m->table[0];
	for (j = 0; j < m->nlabels; j++)
		lv_clean(lv ? lv[j] : NULL, cv[j]);
	h = lv_hash(cv, m->nlabels);
	for (i = 0; i < METRICS_TABLE_SLOTS; i++) {
		idx = (unsigned)(h + i) & (METRICS_TABLE_SLOTS - 1);
		s = &m->table[idx];
again:
		st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st == SLOT_BUSY) {
			/* another thread is copying labels: short */
			sched_yield();
			goto again;
		}
		if (st == SLOT_READY) {
			if (s->hash != h)
				continue;
			for (j = 0; j < m->nlabels; j++)
				if (strcmp(s->lv[j], cv[j]) != 0)
					break;
			if (j == m->nlabels)
				return s;
			continue;
		}
		if (st == SLOT_DEAD)
			continue;
		/* EMPTY: the series does not exist */
		if (!create)
			return NULL;
		if (atomic_fetch_add(&m->nseries, 1) >= METRICS_MAX_SERIES) {
			atomic_fetch_sub(&m->nseries, 1);
			break;
		}
		expect = SLOT_EMPTY;
		if (!atomic_compare_exchange_strong(&s->state, &expect,
		    SLOT_BUSY)) {
			atomic_fetch_sub(&m->nseries, 1);
			goto again;
		}
		s->hash = h;
		for (j = 0; j < m->nlabels; j++)
			if ((s->lv[j] = strdup(cv[j])) == NULL)
				break;
		if (j < m->nlabels) {
			atomic_fetch_sub(&m->nseries, 1);
			atomic_store_explicit(&s->state, SLOT_DEAD,
			    memory_order_release);
			break;
		}
		atomic_store_explicit(&s->state, SLOT_READY,
		    memory_order_release);
		return s;
	}
	if (!create)
		return NULL;
	atomic_fetch_add_explicit(&m->overflows, 1, memory_order_relaxed);
	return &m->other;
}

void
metric_add(struct metric *m, const char *const *lv, uint64_t delta)
{
	if (m == NULL || m->type != METRIC_COUNTER)
		return;
	atomic_fetch_add_explicit(&series_find(m, lv, 1)->count, delta,
	    memory_order_relaxed);
}

void
metric_gauge_set(struct metric *m, const char *const *lv, int64_t v)
{
	if (m == NULL || m->type != METRIC_GAUGE)
		return;
	atomic_store_explicit(&series_find(m, lv, 1)->gauge, v,
	    memory_order_relaxed);
}

void
metric_gauge_add(struct metric *m, const char *const *lv, int64_t delta)
{
	if (m == NULL || m->type != METRIC_GAUGE)
		return;
	atomic_fetch_add_explicit(&series_find(m, lv, 1)->gauge, delta,
	    memory_order_relaxed);
}

void
metric_observe(struct metric *m, const char *const *lv, double v)
{
	struct series *s;
	uint64_t old, nw;
	double d;
	size_t i;

	if (m == NULL || m->type != METRIC_HISTOGRAM || isnan(v))
		return;
	s = series_find(m, lv, 1);
	for (i = 0; i < m->nbounds && v > m->bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
	do {
		memcpy(&d, &old, sizeof(d));
		d += v;
		memcpy(&nw, &d, sizeof(nw));
	} while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old,
	    nw, memory_order_relaxed, memory_order_relaxed));
}

int64_t
metric_value(struct metric *m, const char *const *lv)
{
	struct series *s;

	if (m == NULL || (s = series_find(m, lv, 0)) == NULL)
		return 0;
	if (m->type == METRIC_GAUGE)
		return atomic_load(&s->gauge);
	return (int64_t)atomic_load(&s->count);
}

unsigned
metric_nseries(struct metric *m)
{
	return m ? atomic_load(&m->nseries) : 0;
}

uint64_t
metric_overflows(struct metric *m)
{
	return m ? atomic_load(&m->overflows) : 0;
}

/* ---- rendering ---- */

struct mbuf {
	char	*p;
	size_t	 len, cap, max;
	int	 grow;		/* realloc allowed */
	int	 err;		/* ENOMEM or E2BIG: output incomplete */
};

static void
mb_reserve(struct mbuf *b, size_t need)
{
	size_t ncap;
	char *np;

	if (b->err || b->len + need < b->cap)
		return;
	if (!b->grow || b->len + need >= b->max) {
		b->err = E2BIG;
		return;
	}
	ncap = b->cap ? b->cap : 16384;
	while (ncap <= b->len + need)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	if ((np = realloc(b->p, ncap)) == NULL) {
		b->err = ENOMEM;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

static void
mb_put(struct mbuf *b, const char *s, size_t n)
{
	mb_reserve(b, n);
	if (b->err) {
		/* keep a truncated prefix in a fixed buffer */
		if (!b->grow && b->len < b->cap) {
			if (n > b->cap - 1 - b->len)
				n = b->cap - 1 - b->len;
			memcpy(b->p + b->len, s, n);
			b->len += n;
			b->p[b->len] = '\0';
		}
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
mb_str(struct mbuf *b, const char *s)
{
	mb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
mb_printf(struct mbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	mb_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A label value: backslash, double quote and newline escaped. */
static void
mb_lv(struct mbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			mb_str(b, "\\\\");
		else if (*s == '"')
			mb_str(b, "\\\"");
		else if (*s == '\n')
			mb_str(b, "\\n");
		else
			mb_put(b, s, 1);
	}
}

/* HELP text: backslash and newline escaped. */
static void
mb_help(struct mbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			mb_str(b, "\\\\");
		else if (*s == '\n')
			mb_str(b, "\\n");
		else
			mb_put(b, s, 1);
	}
}

/* The shortest %g form that reads back as the same double. */
static void
mb_double(struct mbuf *b, double v)
{
	char tmp[40];

	if (isinf(v)) {
		mb_str(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (isnan(v)) {
		mb_str(b, "NaN");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, sizeof(tmp), "%.17g", v);
	mb_str(b, tmp);
}

/* {l1="v1",...[,le="x"]} or nothing. */
static void
mb_labels(struct mbuf *b, const struct metric *m, const struct series *s,
    const char *le)
{
	unsigned j;

	if (m->nlabels == 0 && le == NULL)
		return;
	mb_str(b, "{");
	for (j = 0; j < m->nlabels; j++) {
		mb_printf(b, "%s%s=\"", j ? "," : "", m->labels[j]);
		mb_lv(b, s->lv[j]);
		mb_str(b, "\"");
	}
	if (le != NULL)
		mb_printf(b, "%sle=\"%s\"", m->nlabels ? "," : "", le);
	mb_str(b, "}");
}

static void
render_series(struct mbuf *b, const struct metric *m, struct series *s)
{
	uint64_t cum = 0, bits;
	double sum, bound;
	char le[40];
	size_t i;

	switch (m->type) {
	case METRIC_COUNTER:
		mb_str(b, m->name);
		mb_labels(b, m, s, NULL);
		mb_printf(b, " %llu\n", (unsigned long long)
		    atomic_load_explicit(&s->count, memory_order_relaxed));
		break;
	case METRIC_GAUGE:
		mb_str(b, m->name);
		mb_labels(b, m, s, NULL);
		mb_printf(b, " %lld\n", (long long)atomic_load_explicit(
		    &s->gauge, memory_order_relaxed));
		break;
	case METRIC_HISTOGRAM:
		/*
		 * _count is the sum of the buckets as read here, so a scrape
		 * racing observations still has +Inf == _count.
		 */
		for (i = 0; i <= m->nbounds; i++) {
			cum += atomic_load_explicit(&s->buckets[i],
			    memory_order_relaxed);
			if (i == m->nbounds)
				snprintf(le, sizeof(le), "+Inf");
			else {
				bound = m->bounds[i];
				snprintf(le, sizeof(le), "%.15g", bound);
				if (strtod(le, NULL) != bound)
					snprintf(le, sizeof(le), "%.17g",
					    bound);
			}
			mb_printf(b, "%s_bucket", m->name);
			mb_labels(b, m, s, le);
			mb_printf(b, " %llu\n", (unsigned long long)cum);
		}
		bits = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
		memcpy(&sum, &bits, sizeof(sum));
		mb_printf(b, "%s_sum", m->name);
		mb_labels(b, m, s, NULL);
		mb_str(b, " ");
		mb_double(b, sum);
		mb_printf(b, "\n%s_count", m->name);
		mb_labels(b, m, s, NULL);
		mb_printf(b, " %llu\n", (unsigned long long)cum);
		break;
	}
}

static const char *
type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static void
render_all(struct metrics *r, struct mbuf *b)
{
	struct metric *m;
	struct series *s;
	size_t i, n = atomic_load(&r->n);
	unsigned k;
	uint64_t ov;

	for (i = 0; i < n; i++) {
		m = r->fam[i];
		mb_printf(b, "# HELP %s ", m->name);
		mb_help(b, m->help);
		mb_printf(b, "\n# TYPE %s %s\n", m->name, type_name(m->type));
		if (m->nlabels == 0) {
			render_series(b, m, &m->table[0]);
			continue;
		}
		for (k = 0; k < METRICS_TABLE_SLOTS; k++) {
			s = &m->table[k];
			if (atomic_load_explicit(&s->state,
			    memory_order_acquire) == SLOT_READY)
				render_series(b, m, s);
		}
		if (atomic_load(&m->overflows) > 0)
			render_series(b, m, &m->other);
	}
	mb_str(b, "# HELP " METRICS_OVERFLOW_NAME " Label sets folded into "
	    "label value \"other\" because a family reached its bound.\n"
	    "# TYPE " METRICS_OVERFLOW_NAME " counter\n");
	for (i = 0; i < n; i++) {
		m = r->fam[i];
		if ((ov = atomic_load(&m->overflows)) > 0)
			mb_printf(b, METRICS_OVERFLOW_NAME "{metric=\"%s\"} "
			    "%llu\n", m->name, (unsigned long long)ov);
	}
}

long
metrics_render(struct metrics *r, char *buf, size_t len)
{
	struct mbuf b = { .p = buf, .cap = len, .max = len };

	if (r == NULL || buf == NULL || len == 0)
		return -1;
	buf[0] = '\0';
	render_all(r, &b);
	return b.err ? -1 : (long)b.len;
}

char *
metrics_render_alloc(struct metrics *r, size_t max, size_t *lenp)
{
	struct mbuf b = { .grow = 1, .max = max ? max : METRICS_RENDER_MAX };

	if (r == NULL) {
		errno = EINVAL;
		return NULL;
	}
	mb_reserve(&b, 1);
	if (!b.err)
		render_all(r, &b);
	if (b.err) {
		free(b.p);
		errno = b.err;
		return NULL;
	}
	if (lenp != NULL)
		*lenp = b.len;
	return b.p;
}

/* ---- the process registry ---- */

static const double buckets_request[] = {
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
static const double buckets_tunnel[] = {
	1, 5, 10, 30, 60, 120, 300,
};
static const double buckets_handshake[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};
static const double buckets_scanner[] = {
	0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.05, 0.1,
};

#define L(...)		((const char *const[]){ __VA_ARGS__, NULL })
#define B(a)		a, sizeof(a) / sizeof((a)[0])

static const struct {
	enum metrics_id		 id;
	const char		*name;
	const char		*help;
	enum metric_type	 type;
	const char *const	*labels;
	const double		*buckets;
	size_t			 nbuckets;
} global_families[] = {
	{ M_INFO, "pipelock_info", "Build information (always 1).",
	  METRIC_GAUGE, L("version"), NULL, 0 },
	{ M_REQUESTS_TOTAL, "pipelock_requests_total",
	  "Requests and connections decided, by result (allowed, blocked).",
	  METRIC_COUNTER, L("result", "agent"), NULL, 0 },
	{ M_BLOCKS_TOTAL, "pipelock_blocks_total",
	  "Blocked requests, flows and queries by reason and transport.",
	  METRIC_COUNTER, L("reason", "transport"), NULL, 0 },
	{ M_REQUEST_DURATION, "pipelock_request_duration_seconds",
	  "Time from the first byte of a request to its verdict.",
	  METRIC_HISTOGRAM, NULL, B(buckets_request) },
	{ M_SCANNER_HITS, "pipelock_scanner_hits_total",
	  "Blocks by scanner layer.",
	  METRIC_COUNTER, L("scanner", "agent"), NULL, 0 },
	{ M_SCANNER_SECONDS, "pipelock_scanner_seconds",
	  "Time spent in one scanner call.",
	  METRIC_HISTOGRAM, NULL, B(buckets_scanner) },
	{ M_DLP_FINDINGS, "pipelock_dlp_findings_total",
	  "DLP findings by pattern name and severity.",
	  METRIC_COUNTER, L("pattern", "severity"), NULL, 0 },
	{ M_BODY_DLP_HITS, "pipelock_body_dlp_hits_total",
	  "Request body DLP findings by action.",
	  METRIC_COUNTER, L("action", "agent"), NULL, 0 },
	{ M_HEADER_DLP_HITS, "pipelock_header_dlp_hits_total",
	  "Request header DLP findings by action.",
	  METRIC_COUNTER, L("action", "agent"), NULL, 0 },
	{ M_TUNNELS_TOTAL, "pipelock_tunnels_total",
	  "TCP relays and CONNECT tunnels by result (completed, blocked).",
	  METRIC_COUNTER, L("result", "agent"), NULL, 0 },
	{ M_TUNNEL_DURATION, "pipelock_tunnel_duration_seconds",
	  "Lifetime of completed relays.",
	  METRIC_HISTOGRAM, NULL, B(buckets_tunnel) },
	{ M_TUNNEL_BYTES, "pipelock_tunnel_bytes_total",
	  "Bytes relayed through tunnels, both directions.",
	  METRIC_COUNTER, NULL, NULL, 0 },
	{ M_ACTIVE_TUNNELS, "pipelock_active_tunnels",
	  "Relays open now.",
	  METRIC_GAUGE, NULL, NULL, 0 },
	{ M_SNI_TOTAL, "pipelock_sni_total",
	  "SNI checks by category (match, mismatch, not_tls, no_extension, "
	  "malformed_tls, timeout).",
	  METRIC_COUNTER, L("category", "agent"), NULL, 0 },
	{ M_TLS_INTERCEPT, "pipelock_tls_intercept_total",
	  "TLS interception attempts by outcome.",
	  METRIC_COUNTER, L("outcome"), NULL, 0 },
	{ M_TLS_HANDSHAKE_DURATION, "pipelock_tls_handshake_duration_seconds",
	  "TLS handshake time by side (client, upstream).",
	  METRIC_HISTOGRAM, L("side"), B(buckets_handshake) },
	{ M_TLS_REQUEST_BLOCKED, "pipelock_tls_request_blocked_total",
	  "Intercepted requests blocked, by reason.",
	  METRIC_COUNTER, L("reason"), NULL, 0 },
	{ M_TLS_RESPONSE_BLOCKED, "pipelock_tls_response_blocked_total",
	  "Intercepted responses blocked, by reason.",
	  METRIC_COUNTER, L("reason"), NULL, 0 },
	{ M_TLS_CERT_CACHE_SIZE, "pipelock_tls_cert_cache_size",
	  "Leaf certificates cached.",
	  METRIC_GAUGE, NULL, NULL, 0 },
	{ M_CONNECTIONS_OPEN, "pipelock_connections_open",
	  "Agent connections held by the engine now.",
	  METRIC_GAUGE, NULL, NULL, 0 },
	{ M_BYTES_TOTAL, "pipelock_bytes_total",
	  "Bytes relayed by direction (up: agent to upstream, down).",
	  METRIC_COUNTER, L("direction"), NULL, 0 },
	{ M_NFQUEUE_VERDICTS, "pipelock_nfqueue_verdicts_total",
	  "NFQUEUE packet verdicts (accept, drop).",
	  METRIC_COUNTER, L("verdict"), NULL, 0 },
	{ M_NFQUEUE_DROPS, "pipelock_nfqueue_drops_total",
	  "Packets the kernel dropped because the queue was full or the "
	  "engine too slow.",
	  METRIC_COUNTER, NULL, NULL, 0 },
	{ M_DNS_QUERIES, "pipelock_dns_queries_total",
	  "DNS queries by verdict.",
	  METRIC_COUNTER, L("verdict"), NULL, 0 },
	{ M_KILL_SWITCH_ACTIVE, "pipelock_kill_switch_active",
	  "Kill switch state by source (1 active).",
	  METRIC_GAUGE, L("source"), NULL, 0 },
	{ M_KILL_SWITCH_DENIALS, "pipelock_kill_switch_denials_total",
	  "Requests, flows and queries denied by the kill switch.",
	  METRIC_COUNTER, L("transport", "endpoint"), NULL, 0 },
	{ M_CONFIG_RELOADS, "pipelock_config_reloads_total",
	  "Configuration reloads by result (success, error).",
	  METRIC_COUNTER, L("result"), NULL, 0 },
	{ M_FIREWALL_RESTORES, "pipelock_firewall_restores_total",
	  "Times the engine re-applied a firewall ruleset that had changed "
	  "or disappeared.",
	  METRIC_COUNTER, NULL, NULL, 0 },
};

static struct metrics *global_reg;
static struct metric *global_fam[M_ID_COUNT];
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init(void)
{
	struct metrics *r;
	size_t i;
	static const char *const ks_sources[] = {
		"config", "api", "signal", "sentinel",
	};

	if ((r = metrics_new()) == NULL)
		return;
	for (i = 0; i < sizeof(global_families) / sizeof(global_families[0]);
	    i++)
		global_fam[global_families[i].id] = metrics_add(r,
		    global_families[i].name, global_families[i].help,
		    global_families[i].type, global_families[i].labels,
		    global_families[i].buckets, global_families[i].nbuckets);
	metric_gauge_set(global_fam[M_INFO], METRIC_LV(PIPELOCK_FW_VERSION), 1);
	/* Grafana's kill switch panels query each source: start at 0. */
	for (i = 0; i < 4; i++)
		metric_gauge_set(global_fam[M_KILL_SWITCH_ACTIVE],
		    METRIC_LV(ks_sources[i]), 0);
	global_reg = r;
}

struct metrics *
metrics_global(void)
{
	pthread_once(&global_once, global_init);
	return global_reg;
}

struct metric *
metrics_get(enum metrics_id id)
{
	if (metrics_global() == NULL || (unsigned)id >= M_ID_COUNT)
		return NULL;
	return global_fam[id];
}
