// The C hello module: prints a greeting, then each argument after argv[0] on its own line, and exits 0.
// Built by ../build.sh with clang --target=wasm32-wasi against wasi-libc (a WASI preview 1 command module).
#include <stdio.h>

int main(int argc, char **argv) {
  puts("Hello from nodewasi!");
  for (int i = 1; i < argc; i++) {
    puts(argv[i]);
  }
  return 0;
}
