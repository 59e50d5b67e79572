/*
 * policy.h - the immutable, reference-counted policy the engine decides with.
 *
 * A policy is a loaded config plus the scanner compiled from it.  Workers
 * take a reference per connection (policy_ref) so a connection finishes under
 * the policy it started with; SIGHUP builds a new policy and swaps it in with
 * policy_swap(), a failed reload leaves the old one in place.
 */
#ifndef PIPELOCK_POLICY_H
#define PIPELOCK_POLICY_H

#include <stddef.h>

struct config;
struct scanner;

struct policy {
	struct config	*cfg;
	struct scanner	*scanner;
	unsigned long	 generation;
	int		 refs;		/* atomic */
};

/*
 * Build a policy from a loaded config (takes ownership of cfg, also on
 * error).  Compiles every pattern; reads known secrets from the agents'
 * environments when dlp.scan_env is on.  NULL + err on failure.
 */
struct policy *policy_new(struct config *cfg, char *err, size_t errlen);
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);

/* Process-wide current policy: get takes a reference, swap drops the old. */
struct policy *policy_current(void);
void policy_swap(struct policy *p);

#endif
