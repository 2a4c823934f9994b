// Prints argv[1] lines "000000000" to the count less one (nine digits each), through stdio's buffer, sleeping
// argv[2] ms (default 0) after every 100 lines. Used by the log rotation tests: a reader following the log
// must see the numbers in order, each once.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
  long ms = argc > 2 ? atol(argv[2]) : 0;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  for (unsigned long i = 0; i < n; i++) {
    printf("%09lu\n", i);
    if (ms > 0 && i % 100 == 99) {
      fflush(stdout);
      nanosleep(&ts, NULL);
    }
  }
  return 0;
}
