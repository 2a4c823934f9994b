// Prints the file argv[1] (a guest path, e.g. /data/x) to stdout; on failure prints the errno text to
// stderr and exits 1. Used for preopens and for the symlink-escape test.
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: read-file PATH\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    fprintf(stderr, "read-file: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
  return 0;
}
