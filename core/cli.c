/*
 * cli.c - process-wide CLI state shared by the subcommands (see cli.h).
 * Kept out of main.c so the library (and the fuzz targets, which have no
 * main.c) links on its own.
 */
#include "core/cli.h"

const char *progname = "pipelock-fw";
