// Spins forever without a host call: only a signal ends it.
#include <stdio.h>

int main(void) {
  volatile unsigned long n = 0;
  printf("spinning\n");
  fflush(stdout);
  for (;;) n++;
}
