/* placeholder: replaced by the module implementation */
#include <stdio.h>
#include "core/cli.h"
int
run_main(int argc, char **argv)
{
	fprintf(stderr, "not built yet\n");
	return EXIT_USAGE;
}
