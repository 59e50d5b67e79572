/*
 * test_cli.c - cli_parse_long, the option-number parser of the
 * subcommands: whole decimal numbers in range, nothing else.
 */
#include <limits.h>

#include "core/cli.h"
#include "tap.h"

static const struct {
	const char	*in;
	long		 min, max;
	int		 ret;
	long		 out;
} vectors[] = {
	{ "1", 1, 60, 0, 1 },
	{ "60", 1, 60, 0, 60 },
	{ "0", 1, 60, -1, 0 },
	{ "61", 1, 60, -1, 0 },
	{ "-1", 1, 60, -1, 0 },
	{ "", 1, 60, -1, 0 },
	{ "5x", 1, 60, -1, 0 },
	{ "x5", 1, 60, -1, 0 },
	{ "4294967294", 1, 4294967294L, 0, 4294967294L },
	{ "4294967295", 1, 4294967294L, -1, 0 },
	{ "99999999999999999999999", 1, LONG_MAX, -1, 0 },	/* ERANGE */
};

int
main(void)
{
	size_t i;
	long n;
	int r;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = -42;
		r = cli_parse_long(vectors[i].in, vectors[i].min,
		    vectors[i].max, &n);
		is_int(r, vectors[i].ret, "`%s' in [%ld, %ld]: %s",
		    vectors[i].in, vectors[i].min, vectors[i].max,
		    vectors[i].ret == 0 ? "accepted" : "refused");
		if (vectors[i].ret == 0)
			ok(n == vectors[i].out, "`%s' is %ld", vectors[i].in,
			    vectors[i].out);
		else
			ok(n == -42, "`%s': *out untouched", vectors[i].in);
	}
	return tap_done();
}
