// Sleeps argv[1] milliseconds in one poll_oneoff (via nanosleep), then prints "slept" and exits 0.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  long ms = argc > 1 ? atol(argv[1]) : 1000;
  printf("sleeping %ld ms\n", ms);
  fflush(stdout);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  printf("slept\n");
  return 0;
}
