// Prints the environment, one VAR=value per line: checks that env reaches the guest and nothing else does.
#include <stdio.h>

extern char **environ;

int main(void) {
  for (char **e = environ; *e; e++) printf("%s\n", *e);
  return 0;
}
