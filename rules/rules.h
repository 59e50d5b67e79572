/*
 * rules.h - the firewall pipelock-fw installs for itself: one nftables table
 * (`inet pipelock`, applied as one libnftnl netlink batch) plus the policy
 * routes that steer marked agent packets back in through `lo`, where the
 * prerouting `tproxy` rule hands them to the engine.
 *
 * Everything applied is recorded in the table's userdata (comment), per
 * network namespace, so rules_remove() needs no config and no state file.
 *
 * The ruleset is described once (struct rules_set, a list of small rule
 * descriptions) and rendered two ways: nft text (dry-run, status, generate)
 * and libnftnl expressions (apply).
 */
#ifndef PIPELOCK_RULES_H
#define PIPELOCK_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;

#define RULES_TABLE_NAME	"pipelock"

/*
 * rules_apply() flags.  Agent UDP goes to NFQUEUE by default (the engine's
 * queue workers judge DNS and QUIC); RULES_F_NO_NFQUEUE rejects it all
 * instead.  Bits 16..23 carry the number of queues (RULES_F_QUEUES(n):
 * queues queue_num .. queue_num + n - 1, balanced by the kernel's hash of
 * the address pair; 0 means 1), so the record of an apply, and the
 * watcher's re-apply, keep it.
 */
enum rules_flags {
	RULES_F_NONE = 0,
	RULES_F_NFQUEUE = 1 << 0,	/* agent UDP -> NFQUEUE (the default) */
	RULES_F_NFQ_NATIVE = 1 << 1,	/* force native `queue` (default: probe) */
	RULES_F_NFQ_XT = 1 << 2,	/* force xt NFQUEUE via nft_compat */
	RULES_F_NO_DESTROY = 1 << 3,	/* keep agents' existing connections */
	RULES_F_QUIET = 1 << 4,		/* no informational messages */
	RULES_F_CLOSE_CONNTRACK = 1 << 5,/* close via conntrack even when
					   SOCK_DESTROY works (tests) */
	RULES_F_NO_NFQUEUE = 1 << 6,	/* agent UDP rejected, never queued */
};

#define RULES_F_QUEUES_SHIFT	16
#define RULES_F_QUEUES_MAX	255
#define RULES_F_QUEUES(n)	((int)((unsigned)(n) & RULES_F_QUEUES_MAX) << \
				 RULES_F_QUEUES_SHIFT)
#define RULES_QUEUES_OF(flags)	((unsigned)(flags) >> RULES_F_QUEUES_SHIFT & \
				 RULES_F_QUEUES_MAX)

/*
 * Install (or atomically replace) the ruleset and policy routes for cfg in
 * the caller's network namespace.  Probes the kernel first and refuses,
 * naming the missing feature, rather than installing half a ruleset.
 * Existing agent connections are destroyed (sock_diag) or their conntrack
 * entries deleted unless RULES_F_NO_DESTROY.  Messages go through log.h.
 * Returns 0 on success, -1 on failure (nothing new left installed).
 */
int rules_apply(const struct config *cfg, int flags);

/*
 * Remove what a previous rules_apply() installed in this namespace (read
 * from the table's record), and nothing else.  Idempotent: 0 also when
 * nothing was installed.  -1 on failure.
 */
int rules_remove(void);

/* 1 if our table exists in this namespace, 0 if not, -1 on error. */
int rules_installed(void);

/*
 * The NFQUEUE range the installed table queues agent UDP to (from its
 * record): 1 with *first and *total set, 0 when no table is installed or
 * it queues nothing, -1 on error.  The engine binds these queues when it
 * did not apply the firewall itself.
 */
int rules_queue_range(unsigned *first, unsigned *total);

/*
 * Print, without touching the kernel, an `nft -f` script of the exact
 * ruleset rules_apply(cfg, flags) would install, with the ip rule/route
 * commands as comments at the end.  Kernel probing is skipped: the NFQUEUE
 * form is the forced one, or the xt form (shown commented out: nft text
 * cannot express it) when neither is forced.  0, or -1 on a bad config.
 */
int rules_render(const struct config *cfg, int flags, FILE *out);

/*
 * Watch the kernel for our table, ip rules or routes disappearing
 * (NETLINK_ROUTE rule/route groups + NFNLGRP_NFTABLES).  The watcher keeps
 * no copy of cfg.
 */
struct rules_watch;

/*
 * cfg must outlive the watcher; re-applies use the flags of the apply
 * recorded in the table when the watcher was created.
 */
struct rules_watch *rules_watch_new(const struct config *cfg);
/* The fd to poll for readability. */
int rules_watch_fd(const struct rules_watch *w);
/*
 * Drain pending notifications; if anything of ours is missing, re-apply.
 * Returns 1 when it re-applied (the caller logs an audit event), 0 when
 * all was in place, -1 when re-applying failed.
 */
int rules_watch_handle(struct rules_watch *w);
void rules_watch_free(struct rules_watch *w);

#endif
