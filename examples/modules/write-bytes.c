// Writes argv[1] bytes to stdout, byte i being (i * 7 + i / 251) & 0xff, in 64 KiB writes; exits 0.
// The pattern is not periodic in the buffer size, so a lost or repeated chunk changes the sha256.
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  static unsigned char buf[65536];
  unsigned long long total = argc > 1 ? strtoull(argv[1], NULL, 10) : 0, i = 0;
  while (i < total) {
    size_t n = total - i < sizeof buf ? (size_t)(total - i) : sizeof buf;
    for (size_t k = 0; k < n; k++) buf[k] = (unsigned char)(((i + k) * 7 + (i + k) / 251) & 0xff);
    for (size_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, n - off);
      if (w <= 0) return 3;
      off += (size_t)w;
    }
    i += n;
  }
  return 0;
}
