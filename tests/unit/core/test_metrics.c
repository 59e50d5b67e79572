/*
 * test_metrics.c - core/metrics: exposition format (run through the strict
 * checker), escaping, label-set bound, concurrent updates, the global
 * registry's pipelock_ families.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "lib/promcheck.h"
#include "tap.h"

#define THREAD_ITERS	200000

static struct metric *conc_c, *conc_l, *conc_h, *conc_new;

static void *
conc_worker(void *arg)
{
	const char *who = arg;
	char name[32];
	int i;

	/* both threads create the same new label sets at once */
	for (i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "agent-%d", i);
		metric_add(conc_new, METRIC_LV(name), 1);
	}
	for (i = 0; i < THREAD_ITERS; i++) {
		metric_inc(conc_c);
		metric_add(conc_l, METRIC_LV(i % 2 ? "a" : "b"), 1);
		metric_observe(conc_h, NULL, (i % 10) * 0.1);
	}
	(void)who;
	return NULL;
}

/* Render r, check it, return the malloc'd text. */
static char *
render_checked(struct metrics *r, const char *what)
{
	char err[512];
	size_t len;
	char *t = metrics_render_alloc(r, 0, &len);
	long n;

	ok(t != NULL, "%s: rendered", what);
	if (t == NULL)
		return NULL;
	n = promcheck(t, len, err, sizeof(err));
	if (!ok(n >= 0, "%s: passes the format check", what))
		diag("%s", err);
	return t;
}

static void
test_checker_rejects(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "a 1\n", "sample without TYPE" },
		{ "# TYPE a counter\na{x=\"1\"} 1\n# TYPE b counter\nb 1\na 2\n",
		  "non-contiguous family" },
		{ "# TYPE a counter\na 1\na 2\n", "duplicate series" },
		{ "# TYPE a counter\na{x=\"\\q\"} 1\n", "bad escape" },
		{ "# TYPE a counter\na -1\n", "negative counter" },
		{ "# TYPE a counter\na 1", "no final newline" },
		{ "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
		  "h_sum 1\nh_count 1\n", "decreasing buckets" },
		{ "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
		  "no +Inf" },
		{ "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
		  "+Inf != count" },
		{ "# TYPE a counter\n# TYPE a counter\na 1\n", "two TYPEs" },
		{ "# TYPE a foo\na 1\n", "unknown type" },
		{ "# TYPE a counter\na{x=\"1\",} 1\n", "trailing comma" },
		{ "# TYPE a counter\na{__x=\"1\"} 1\n", "reserved label" },
		{ "# TYPE a gauge\na inf\n", "lowercase inf" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(promcheck(bad[i].text, strlen(bad[i].text), err,
		    sizeof(err)) == -1, "checker rejects: %s (%s)", bad[i].why,
		    err);
	{
		const char *good = "# HELP a x \\\\ y\n# TYPE a gauge\n"
		    "a{b=\"q\\\"\\\\\\n\"} NaN\n\n# plain comment\n"
		    "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n";

		is_int(promcheck(good, strlen(good), err, sizeof(err)), 5,
		    "checker accepts valid text (%s)", err);
	}
}

static void
test_format(void)
{
	struct metrics *r = metrics_new();
	static const double b[] = { 0.1, 0.5, 1 };
	struct metric *c, *g, *h, *hl;
	char *t, small[64];

	c = metrics_add(r, "t_requests_total", "Requests.\nWith \\ newline",
	    METRIC_COUNTER, METRIC_LV("result", "agent", NULL), NULL, 0);
	g = metrics_add(r, "t_open", "Open.", METRIC_GAUGE, NULL, NULL, 0);
	h = metrics_add(r, "t_seconds", "Time.", METRIC_HISTOGRAM, NULL, b, 3);
	hl = metrics_add(r, "t_hs_seconds", "Time by side.", METRIC_HISTOGRAM,
	    METRIC_LV("side", NULL), b, 3);
	ok(c && g && h && hl, "families registered");
	ok(metrics_add(r, "bad name", "", METRIC_COUNTER, NULL, NULL, 0) ==
	    NULL, "invalid metric name refused");
	ok(metrics_add(r, "t_x", "", METRIC_HISTOGRAM, NULL, (double[]){ 1, 1 },
	    2) == NULL, "non-increasing buckets refused");
	ok(metrics_add(r, "t_y", "", METRIC_COUNTER, METRIC_LV("le", NULL),
	    NULL, 0) == NULL, "label le refused");

	metric_add(c, METRIC_LV("allowed", "agent \"q\"\\x\ny"), 3);
	metric_add(c, METRIC_LV("blocked", "a"), 1);
	metric_add(c, METRIC_LV("blocked", "a"), 1);
	metric_gauge_set(g, NULL, 5);
	metric_gauge_add(g, NULL, -2);
	metric_observe(h, NULL, 0.05);
	metric_observe(h, NULL, 0.5);
	metric_observe(h, NULL, 0.7);
	metric_observe(h, NULL, 100);
	metric_observe(hl, METRIC_LV("client"), 0.2);

	t = render_checked(r, "format");
	if (t != NULL) {
		ok(strstr(t, "# HELP t_requests_total Requests.\\nWith \\\\ "
		    "newline\n# TYPE t_requests_total counter\n") != NULL,
		    "HELP escaped, TYPE follows");
		ok(strstr(t, "t_requests_total{result=\"allowed\",agent=\"agent "
		    "\\\"q\\\"\\\\x?y\"} 3\n") != NULL,
		    "label value escaped (newline control replaced)");
		is_int(promcheck_value(t, "t_requests_total{result=\"blocked\""),
		    2, "counter value");
		is_int(promcheck_value(t, "t_open "), 3, "gauge value");
		ok(strstr(t, "t_seconds_bucket{le=\"0.1\"} 1\n"
		    "t_seconds_bucket{le=\"0.5\"} 2\n"
		    "t_seconds_bucket{le=\"1\"} 3\n"
		    "t_seconds_bucket{le=\"+Inf\"} 4\n"
		    "t_seconds_sum 101.25\n"
		    "t_seconds_count 4\n") != NULL, "histogram cumulative");
		ok(strstr(t, "t_hs_seconds_bucket{side=\"client\",le=\"0.5\"} 1\n")
		    != NULL, "labelled histogram puts le last");
	}
	free(t);
	is_int(metric_value(c, METRIC_LV("blocked", "a")), 2, "metric_value");
	is_int(metric_value(c, METRIC_LV("none", "a")), 0,
	    "metric_value of a missing series");
	is_int(metric_nseries(c), 2, "lookup does not create series");
	is_int(metrics_render(r, small, sizeof(small)), -1,
	    "render into a small buffer fails");
	ok(strlen(small) < sizeof(small), "and stays terminated");
	ok(metrics_render_alloc(r, 64, NULL) == NULL, "render bound enforced");
	metrics_free(r);
}

static void
test_overflow(void)
{
	struct metrics *r = metrics_new();
	struct metric *c = metrics_add(r, "t_by_agent_total", "x",
	    METRIC_COUNTER, METRIC_LV("agent", NULL), NULL, 0);
	char name[32], big[300];
	char *t;
	int i;

	for (i = 0; i < METRICS_MAX_SERIES + 50; i++) {
		snprintf(name, sizeof(name), "agent-%d", i);
		metric_add(c, METRIC_LV(name), 1);
	}
	/* existing series still found after the table is full */
	metric_add(c, METRIC_LV("agent-0"), 1);
	is_int(metric_nseries(c), METRICS_MAX_SERIES, "label sets bounded");
	is_int(metric_overflows(c), 50, "overflows counted");
	is_int(metric_value(c, METRIC_LV("agent-0")), 2,
	    "existing series still updated");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	metric_add(c, METRIC_LV(big), 1);
	is_int(metric_overflows(c), 51, "new series after the bound overflow");
	t = render_checked(r, "overflow");
	if (t != NULL) {
		is_int(promcheck_value(t, "t_by_agent_total{agent=\"other\"}"), 51,
		    "overflow lands in \"other\"");
		is_int(promcheck_value(t, "pipelock_metrics_label_overflow_total"
		    "{metric=\"t_by_agent_total\"}"), 51, "overflow metric");
	}
	free(t);
	metrics_free(r);

	r = metrics_new();
	c = metrics_add(r, "t_long_total", "x", METRIC_COUNTER,
	    METRIC_LV("v", NULL), NULL, 0);
	metric_add(c, METRIC_LV(big), 1);
	big[200] = '\0';
	metric_add(c, METRIC_LV(big), 1);
	is_int(metric_nseries(c), 1, "long values cut to one series");
	metric_add(c, METRIC_LV("\xff\xfe bad utf8 \xe2\x82\xac"), 1);
	t = render_checked(r, "long and non-UTF-8 values");
	ok(t && strstr(t, "{v=\"?? bad utf8 \xe2\x82\xac\"} 1\n") != NULL,
	    "invalid UTF-8 replaced, valid kept");
	free(t);
	metrics_free(r);
}

static void
test_concurrent(void)
{
	struct metrics *r = metrics_new();
	static const double b[] = { 0.25, 0.5 };
	pthread_t t1, t2;
	char *t;

	conc_c = metrics_add(r, "t_c_total", "x", METRIC_COUNTER, NULL, NULL,
	    0);
	conc_l = metrics_add(r, "t_l_total", "x", METRIC_COUNTER,
	    METRIC_LV("k", NULL), NULL, 0);
	conc_h = metrics_add(r, "t_h", "x", METRIC_HISTOGRAM, NULL, b, 2);
	conc_new = metrics_add(r, "t_new_total", "x", METRIC_COUNTER,
	    METRIC_LV("agent", NULL), NULL, 0);
	pthread_create(&t1, NULL, conc_worker, "1");
	pthread_create(&t2, NULL, conc_worker, "2");
	/* scrape while they run: every render must stay consistent */
	for (int i = 0; i < 20; i++) {
		char err[256];
		size_t len;
		char *x = metrics_render_alloc(r, 0, &len);

		if (x == NULL || promcheck(x, len, err, sizeof(err)) < 0) {
			ok(0, "render during updates: %s", err);
			free(x);
			break;
		}
		free(x);
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	is_int(metric_value(conc_c, NULL), 2 * THREAD_ITERS,
	    "2 threads: counter sum exact");
	is_int(metric_value(conc_l, METRIC_LV("a")) +
	    metric_value(conc_l, METRIC_LV("b")), 2 * THREAD_ITERS,
	    "2 threads: labelled counters exact");
	is_int(metric_nseries(conc_l), 2, "2 threads: no duplicate series");
	is_int(metric_nseries(conc_new), METRICS_MAX_SERIES,
	    "2 threads creating 400 label sets: bound exact");
	{
		int64_t sum = 0;
		char name[32];
		int i;

		/* named series plus what overflowed into "other" */
		for (i = 0; i < 400; i++) {
			snprintf(name, sizeof(name), "agent-%d", i);
			sum += metric_value(conc_new, METRIC_LV(name));
		}
		is_int(sum + (int64_t)metric_overflows(conc_new), 800,
		    "2 threads: every increment counted once");
	}
	t = render_checked(r, "concurrent");
	if (t != NULL) {
		is_int(promcheck_value(t, "t_h_count "), 2 * THREAD_ITERS,
		    "2 threads: histogram count exact");
		/* sum of (i%10)*0.1 over 200000 iterations, times 2 */
		ok(fabs(promcheck_value(t, "t_h_sum ") - 2 * 90000.0) < 1e-3,
		    "2 threads: histogram sum exact");
	}
	free(t);
	metrics_free(r);
}

static void
test_global(void)
{
	static const char *const names[] = {
		"pipelock_info", "pipelock_requests_total",
		"pipelock_request_duration_seconds",
		"pipelock_scanner_hits_total", "pipelock_tunnels_total",
		"pipelock_tunnel_duration_seconds",
		"pipelock_active_tunnels", "pipelock_tunnel_bytes_total",
		"pipelock_sni_total", "pipelock_kill_switch_active",
		"pipelock_kill_switch_denials_total",
		"pipelock_dlp_findings_total", "pipelock_connections_open",
		"pipelock_bytes_total", "pipelock_nfqueue_verdicts_total",
		"pipelock_nfqueue_drops_total", "pipelock_scanner_seconds",
		"pipelock_config_reloads_total",
		"pipelock_firewall_restores_total",
		"pipelock_body_dlp_hits_total",
		"pipelock_header_dlp_hits_total",
		"pipelock_tls_intercept_total",
		"pipelock_tls_handshake_duration_seconds",
		"pipelock_tls_request_blocked_total",
		"pipelock_tls_response_blocked_total",
		"pipelock_tls_cert_cache_size",
	};
	struct metrics *g = metrics_global();
	size_t i;
	char *t;
	int id;

	ok(g != NULL && g == metrics_global(), "one global registry");
	for (id = 0; id < M_ID_COUNT; id++)
		if (metrics_get(id) == NULL)
			break;
	is_int(id, M_ID_COUNT, "every global family registered");
	metric_add(metrics_get(M_REQUESTS_TOTAL), METRIC_LV("allowed", "a1"),
	    1);
	metric_observe(metrics_get(M_REQUEST_DURATION), NULL, 0.02);
	metric_observe(metrics_get(M_TLS_HANDSHAKE_DURATION),
	    METRIC_LV("client"), 0.02);
	t = render_checked(g, "global");
	for (i = 0; t && i < sizeof(names) / sizeof(names[0]); i++)
		ok(promcheck_has_family(t, names[i]), "global has %s",
		    names[i]);
	ok(t && promcheck_value(t, "pipelock_info{version=\"") == 1,
	    "info{version} = 1");
	ok(t && promcheck_value(t, "pipelock_kill_switch_active{source="
	    "\"sentinel\"}") == 0, "kill switch sources start at 0");
	free(t);
}

int
main(void)
{
	test_checker_rejects();
	test_format();
	test_overflow();
	test_concurrent();
	test_global();
	return tap_done();
}
