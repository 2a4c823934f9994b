// Writes a line to stderr, then executes `unreachable`: the runner must report a trap (exit status 134).
#include <stdio.h>

int main(void) {
  fprintf(stderr, "about to trap\n");
  __builtin_trap();
}
