/*
 * test_killswitch.c - core/killswitch: sources and precedence, reload keeps
 * api/signal, the sentinel seen through inotify (create, delete, rename,
 * directory removed and re-created), fail-closed stat errors, JSON bodies,
 * the metric.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/killswitch.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "tap.h"

#define POLL_MS		2000	/* fail-fast bound for an inotify event */

static char tmpdir[] = "/tmp/test_killswitch.XXXXXX";

static struct config *
cfg_from(const char *yaml)
{
	struct config *cfg = NULL;
	char err[CONFIG_ERR_MAX];

	if (config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, err,
	    sizeof(err)) == -1)
		diag("config: %s", err);
	return cfg;
}

/* Wait for the inotify fd to be readable, then handle it. */
static int
wait_event(struct killswitch *ks)
{
	struct pollfd p = { .fd = killswitch_fd(ks), .events = POLLIN };
	int n = poll(&p, 1, POLL_MS);

	if (n == 1)
		killswitch_read(ks);
	return n;
}

static void
test_sources(void)
{
	struct killswitch *ks = killswitch_new(NULL);
	struct config *on, *off;
	char buf[KS_JSON_MAX];

	ok(ks != NULL, "new without config");
	ok(!killswitch_active(ks), "inactive by default");
	ok(killswitch_source(ks) == NULL, "no source");
	killswitch_status_json(ks, buf, sizeof(buf));
	is_str(buf, "{\"active\":false,\"sources\":{\"config\":false,"
	    "\"api\":false,\"signal\":false,\"sentinel\":false}}",
	    "status JSON inactive");

	killswitch_signal_toggle(ks);
	ok(killswitch_active(ks), "SIGUSR1 toggles on");
	is_str(killswitch_source(ks), "signal", "source signal");
	killswitch_set_api(ks, 1);
	is_str(killswitch_source(ks), "api", "api outranks signal");

	on = cfg_from("kill_switch:\n  enabled: true\n"
	    "  message: 'Stop \"now\"'\n");
	off = cfg_from("kill_switch:\n  enabled: false\n");
	ok(on && off, "configs load");
	if (on == NULL || off == NULL)
		goto out;
	ok(killswitch_reconfigure(ks, on) == 0, "reconfigure");
	is_str(killswitch_source(ks), "config", "config outranks api");
	is_int(killswitch_sources(ks), 0x7, "three sources active");
	killswitch_status_json(ks, buf, sizeof(buf));
	is_str(buf, "{\"active\":true,\"sources\":{\"config\":true,"
	    "\"api\":true,\"signal\":true,\"sentinel\":false},"
	    "\"message\":\"Stop \\\"now\\\"\"}", "status JSON active, escaped");
	killswitch_toggle_json(ks, 1, buf, sizeof(buf));
	is_str(buf, "{\"active\":true,\"source\":\"api\",\"message\":"
	    "\"Stop \\\"now\\\"\"}", "toggle JSON on");
	killswitch_toggle_json(ks, 0, buf, sizeof(buf));
	is_str(buf, "{\"active\":false,\"source\":\"api\"}", "toggle JSON off");
	killswitch_denial_json(ks, buf, sizeof(buf));
	is_str(buf, "{\"error\":\"kill_switch_active\",\"message\":"
	    "\"Stop \\\"now\\\"\"}", "denial JSON");

	killswitch_reconfigure(ks, off);
	is_int(killswitch_sources(ks), 0x6, "reload: api and signal persist");
	killswitch_message(ks, buf, sizeof(buf));
	is_str(buf, KS_DEFAULT_MESSAGE, "reload: default message back");
	killswitch_set_api(ks, 0);
	is_str(killswitch_source(ks), "signal", "api off: signal remains");
	killswitch_signal_toggle(ks);
	ok(!killswitch_active(ks), "second SIGUSR1 toggles off");
	killswitch_status_json(ks, buf, 20);
	is_int(strlen(buf), 19, "JSON cut to the buffer");
out:
	config_free(on);
	config_free(off);
	killswitch_free(ks);
}

static void
test_sentinel(void)
{
	char path[256], yaml[512], moved[256], sub[256];
	struct config *cfg, *cfg2;
	struct killswitch *ks;
	FILE *f;
	int i, n;

	snprintf(path, sizeof(path), "%s/stop", tmpdir);
	snprintf(moved, sizeof(moved), "%s/stop.old", tmpdir);
	snprintf(yaml, sizeof(yaml), "kill_switch:\n  sentinel_file: '%s'\n",
	    path);
	if ((cfg = cfg_from(yaml)) == NULL) {
		ok(0, "sentinel config loads");
		return;
	}
	ks = killswitch_new(cfg);
	ok(ks != NULL && killswitch_fd(ks) >= 0, "new with a sentinel");
	ok(!killswitch_active(ks), "no file: inactive");

	f = fopen(path, "w");
	fclose(f);
	is_int(wait_event(ks), 1, "create: inotify fd readable");
	ok(killswitch_active(ks), "create: active");
	is_str(killswitch_source(ks), "sentinel", "source sentinel");

	/* unrelated names in the directory change nothing */
	f = fopen(moved, "w");
	fclose(f);
	unlink(moved);
	wait_event(ks);
	ok(killswitch_active(ks), "other file: still active");

	unlink(path);
	is_int(wait_event(ks), 1, "delete: inotify fd readable");
	ok(!killswitch_active(ks), "delete: inactive");

	f = fopen(moved, "w");
	fclose(f);
	wait_event(ks);
	rename(moved, path);
	for (i = 0; i < 3 && !killswitch_active(ks); i++)
		wait_event(ks);
	ok(killswitch_active(ks), "rename into place: active");
	rename(path, moved);
	for (i = 0; i < 3 && killswitch_active(ks); i++)
		wait_event(ks);
	ok(!killswitch_active(ks), "rename away: inactive");
	unlink(moved);
	wait_event(ks);

	/* the file exists before the switch is made: startup stat */
	f = fopen(path, "w");
	fclose(f);
	wait_event(ks);
	killswitch_free(ks);
	ks = killswitch_new(cfg);
	ok(ks && killswitch_active(ks), "present at startup: active");
	unlink(path);
	wait_event(ks);
	ok(!killswitch_active(ks), "then deleted: inactive");

	/* the directory does not exist yet: tick places the watch later */
	snprintf(sub, sizeof(sub), "%s/later", tmpdir);
	snprintf(path, sizeof(path), "%s/later/stop", tmpdir);
	snprintf(yaml, sizeof(yaml), "kill_switch:\n  sentinel_file: '%s'\n",
	    path);
	cfg2 = cfg_from(yaml);
	ok(cfg2 && killswitch_reconfigure(ks, cfg2) == -1,
	    "reconfigure to a missing directory reports it");
	ok(!killswitch_active(ks), "missing directory: inactive");
	mkdir(sub, 0700);
	f = fopen(path, "w");
	fclose(f);
	killswitch_tick(ks);
	ok(killswitch_active(ks), "tick: found by stat");
	unlink(path);
	n = wait_event(ks);
	is_int(n, 1, "tick placed the watch: delete seen");
	ok(!killswitch_active(ks), "deleted: inactive");

	/* the directory removed: watch dropped, tick re-places it */
	rmdir(sub);
	wait_event(ks);
	killswitch_tick(ks);
	ok(!killswitch_active(ks), "directory gone: inactive");
	mkdir(sub, 0700);
	killswitch_tick(ks);
	f = fopen(path, "w");
	fclose(f);
	is_int(wait_event(ks), 1, "re-created directory watched again");
	ok(killswitch_active(ks), "file in re-created directory: active");
	unlink(path);
	wait_event(ks);

	/* stat errors other than ENOENT fail closed */
	snprintf(path, sizeof(path), "%s/stop/inner", tmpdir);
	snprintf(sub, sizeof(sub), "%s/stop", tmpdir);
	f = fopen(sub, "w");	/* a file where a directory should be */
	fclose(f);
	snprintf(yaml, sizeof(yaml), "kill_switch:\n  sentinel_file: '%s'\n",
	    path);
	config_free(cfg2);
	cfg2 = cfg_from(yaml);
	killswitch_reconfigure(ks, cfg2);
	ok(killswitch_active(ks), "ENOTDIR counts as present (fail closed)");
	unlink(sub);
	rmdir(tmpdir);	/* fails if something was left behind */
	mkdir(tmpdir, 0700);

	/* no sentinel after reload: source cleared */
	killswitch_reconfigure(ks, NULL);
	ok(!killswitch_active(ks), "sentinel removed from config: inactive");
	config_free(cfg);
	config_free(cfg2);
	killswitch_free(ks);
}

static void
test_loop_and_metric(void)
{
	char path[256], yaml[512];
	struct metrics *r = metrics_new();
	struct config *cfg;
	struct killswitch *ks;
	struct loop *l = loop_new();
	uint64_t end;
	FILE *f;

	metrics_add(r, "pipelock_kill_switch_active", "x", METRIC_GAUGE,
	    METRIC_LV("source", NULL), NULL, 0);
	snprintf(path, sizeof(path), "%s/stop", tmpdir);
	snprintf(yaml, sizeof(yaml), "kill_switch:\n  sentinel_file: '%s'\n",
	    path);
	cfg = cfg_from(yaml);
	ks = killswitch_new(cfg);
	ok(l && ks && loop_add(l, killswitch_fd(ks), LOOP_READ,
	    killswitch_loop_cb, ks) == 0, "fd registered in a loop");
	f = fopen(path, "w");
	fclose(f);
	end = loop_now_ms() + POLL_MS;
	while (!killswitch_active(ks) && loop_now_ms() < end)
		loop_once(l, 100);
	ok(killswitch_active(ks), "loop callback saw the sentinel");
	killswitch_publish(ks, r);
	is_int(metric_value(metrics_find(r, "pipelock_kill_switch_active"),
	    METRIC_LV("sentinel")), 1, "metric sentinel 1");
	is_int(metric_value(metrics_find(r, "pipelock_kill_switch_active"),
	    METRIC_LV("api")), 0, "metric api 0");
	unlink(path);
	loop_del(l, killswitch_fd(ks));
	loop_free(l);
	killswitch_free(ks);
	config_free(cfg);
	metrics_free(r);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	test_sources();
	test_sentinel();
	test_loop_and_metric();
	rmdir(tmpdir);
	return tap_done();
}
