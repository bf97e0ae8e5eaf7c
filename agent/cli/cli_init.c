/* cli_init.c - PLACEHOLDER until its owner lands the real subcommand; must not survive to a release. */
#include "cli.h"

#include <stdio.h>

int cli_init(int argc, char **argv)
{
  fprintf(stderr, "mailagent: init is not built yet\n");
  return 2;
}
