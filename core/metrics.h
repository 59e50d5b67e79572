/*
 * metrics.h - Prometheus metrics: lock-free counters, gauges and histograms.
 *
 * A registry holds families (one metric name each) in registration order.
 * A family has 0..METRICS_MAX_LABELS label names and at most
 * METRICS_MAX_SERIES label sets; the first label set beyond that bound is
 * folded into one series whose every label value is "other", and the
 * overflow is counted in pipelock_metrics_label_overflow_total{metric}.
 * Label values are cut at METRICS_MAX_VALUE bytes.
 *
 * Updates are C11 atomics: a series is found by an open-addressed hash
 * table whose slots are claimed with a compare-and-swap and never freed, so
 * workers never take a lock and a scrape never blocks them.  Series appear
 * on first update (like Go's CounterVec); a labelled family without series
 * still renders its HELP and TYPE lines, so every name is visible.
 *
 * metrics_global() is the process registry with every pipelock_ family of
 * enum metrics_id registered; metrics_get(id) returns its handle.
 * Gauges hold signed 64-bit integers.  None of these functions is
 * async-signal-safe (first use of a label set may allocate).
 */
#ifndef PIPELOCK_METRICS_H
#define PIPELOCK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS	3
#define METRICS_MAX_SERIES	256	/* label sets per family, + "other" */
#define METRICS_MAX_BUCKETS	16	/* finite histogram bounds */
#define METRICS_MAX_VALUE	128	/* bytes of one label value */
#define METRICS_MAX_FAMILIES	64
#define METRICS_RENDER_MAX	(8u << 20)	/* metrics_render_alloc bound */

enum metric_type {
	METRIC_COUNTER = 0,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

/* The families of metrics_global(), in rendering order. */
enum metrics_id {
	M_INFO = 0,			/* info{version} = 1 */
	M_REQUESTS_TOTAL,		/* {result,agent} allowed|blocked */
	M_BLOCKS_TOTAL,			/* {reason,transport} */
	M_REQUEST_DURATION,		/* histogram, seconds */
	M_SCANNER_HITS,			/* {scanner,agent} */
	M_SCANNER_SECONDS,		/* histogram: scanner time per call */
	M_DLP_FINDINGS,			/* {pattern,severity} */
	M_BODY_DLP_HITS,		/* {action,agent} */
	M_HEADER_DLP_HITS,		/* {action,agent} */
	M_TUNNELS_TOTAL,		/* {result,agent} completed|blocked */
	M_TUNNEL_DURATION,		/* histogram, seconds */
	M_TUNNEL_BYTES,			/* counter */
	M_ACTIVE_TUNNELS,		/* gauge */
	M_SNI_TOTAL,			/* {category,agent} */
	M_TLS_INTERCEPT,		/* {outcome} */
	M_TLS_HANDSHAKE_DURATION,	/* histogram {side} */
	M_TLS_REQUEST_BLOCKED,		/* {reason} */
	M_TLS_RESPONSE_BLOCKED,		/* {reason} */
	M_TLS_CERT_CACHE_SIZE,		/* gauge */
	M_CONNECTIONS_OPEN,		/* gauge */
	M_BYTES_TOTAL,			/* {direction} up|down */
	M_NFQUEUE_VERDICTS,		/* {verdict} */
	M_NFQUEUE_DROPS,		/* counter */
	M_DNS_QUERIES,			/* {verdict} */
	M_KILL_SWITCH_ACTIVE,		/* gauge {source} */
	M_KILL_SWITCH_DENIALS,		/* {transport,endpoint} */
	M_CONFIG_RELOADS,		/* {result} success|error */
	M_FIREWALL_RESTORES,		/* counter */
	M_ID_COUNT
};

struct metrics;
struct metric;

/* An empty registry, or NULL (errno).  Tests use their own. */
struct metrics *metrics_new(void);
/* Frees the registry and its families.  NULL ok. */
void metrics_free(struct metrics *r);

/*
 * Register a family.  name must be a valid metric name (the caller adds the
 * pipelock_ prefix), labels a NULL-terminated list of at most
 * METRICS_MAX_LABELS names (NULL: none), buckets the strictly increasing
 * finite upper bounds of a histogram (NULL/0 for other types).  Returns the
 * family owned by r, or NULL (bad arguments, ENOMEM).  Not thread safe
 * against itself; updates and renders may run concurrently.
 */
struct metric *metrics_add(struct metrics *r, const char *name,
    const char *help, enum metric_type type, const char *const *labels,
    const double *buckets, size_t nbuckets);

/* The family named name in r, or NULL. */
struct metric *metrics_find(struct metrics *r, const char *name);

/*
 * The process registry (created on first call, thread safe, never freed)
 * and the handle of one of its families.
 */
struct metrics *metrics_global(void);
struct metric *metrics_get(enum metrics_id id);

/*
 * Updates.  lv holds the family's label values in order (NULL for an
 * unlabelled family; a NULL value renders as "").  Wrong types are ignored.
 */
void metric_add(struct metric *m, const char *const *lv, uint64_t delta);
void metric_gauge_set(struct metric *m, const char *const *lv, int64_t v);
void metric_gauge_add(struct metric *m, const char *const *lv, int64_t delta);
void metric_observe(struct metric *m, const char *const *lv, double v);

/* Convenience: label values as arguments. */
#define METRIC_LV(...)	((const char *const[]){ __VA_ARGS__ })
#define metric_inc(m)	metric_add((m), NULL, 1)

/*
 * Current value of a counter or gauge series (tests, /stats); 0 when the
 * series does not exist.  Does not create it.
 */
int64_t metric_value(struct metric *m, const char *const *lv);
/* Label sets in use (not counting "other"), and overflows so far. */
unsigned metric_nseries(struct metric *m);
uint64_t metric_overflows(struct metric *m);

/*
 * Render r in the text exposition format 0.0.4 into buf[0..len).  Returns
 * the length, or -1 if it did not fit (buf then holds a truncated prefix).
 */
long metrics_render(struct metrics *r, char *buf, size_t len);
/*
 * Same into a malloc'd, NUL-terminated buffer of at most max bytes (0:
 * METRICS_RENDER_MAX) that the caller frees; *lenp gets the length.  NULL
 * on ENOMEM or when the text would exceed max (E2BIG).
 */
char *metrics_render_alloc(struct metrics *r, size_t max, size_t *lenp);

#endif
