/* cli_records.c - PLACEHOLDER until its owner lands the real subcommand; must not survive to a release. */
#include "cli.h"

#include <stdio.h>

int cli_records(int argc, char **argv)
{
  fprintf(stderr, "mailagent: records is not built yet\n");
  return 2;
}
