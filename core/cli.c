/*
 * cli.c - process-wide CLI state shared by the subcommands (see cli.h).
 * Kept out of main.c so the library (and the fuzz targets, which have no
 * main.c) links on its own.
 */
#include "core/cli.h"

#include <errno.h>
#include <stdlib.h>

const char *progname = "pipelock-fw";

int
cli_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}
