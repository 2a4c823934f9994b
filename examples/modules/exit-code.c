// Calls proc_exit with argv[1] as a signed int (so 256 and -1 reach the runner unchanged); without an
// argument, returns from main with 0, which wasi-libc ends without calling proc_exit at all.
#include <stdlib.h>
#include <wasi/api.h>

int main(int argc, char **argv) {
  if (argc < 2) return 0;
  __wasi_proc_exit((__wasi_exitcode_t)atoi(argv[1]));
}
