/* cli_employee.c - PLACEHOLDER until its owner lands the real subcommand; must not survive to a release. */
#include "cli.h"

#include <stdio.h>

int cli_employee(int argc, char **argv)
{
  fprintf(stderr, "mailagent: employee is not built yet\n");
  return 2;
}
