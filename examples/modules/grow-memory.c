// Grows linear memory by argv[1] pages of 64 KiB. Prints "grow N: ok, now M pages" and exits 0, or
// "grow N: failed at M pages" and exits 1: the memory cap test reads both.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long pages = argc > 1 ? atol(argv[1]) : 1;
  long before = (long)__builtin_wasm_memory_size(0);
  if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) {
    printf("grow %ld: failed at %ld pages\n", pages, before);
    return 1;
  }
  printf("grow %ld: ok, now %ld pages\n", pages, (long)__builtin_wasm_memory_size(0));
  return 0;
}
