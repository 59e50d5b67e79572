/* placeholder: replaced by the module implementation */
#include <stdio.h>
#include "core/cli.h"
int
firewall_main(int argc, char **argv)
{
	fprintf(stderr, "not built yet\n");
	return EXIT_USAGE;
}
int
generate_main(int argc, char **argv)
{
	fprintf(stderr, "not built yet\n");
	return EXIT_USAGE;
}
