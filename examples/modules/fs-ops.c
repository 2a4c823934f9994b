// Changes its rootfs the ways a guest can, one step per pair of arguments, and prints one line per step:
//   append PATH TEXT    appends TEXT and a newline to PATH (created when missing)
//   write PATH TEXT     replaces PATH's content with TEXT and a newline (O_TRUNC)
//   rm PATH             unlinks PATH
//   link FROM TO        makes TO a hard link of FROM
//   read PATH           prints "read PATH: <content without newlines>"
//   sleep MS            sleeps MS milliseconds (e.g. to be looked at while it runs)
//   waitfor PATH        polls every 20 ms until PATH exists (a test creates it through a mount)
// A step that fails prints "STEP PATH: <errno text>" and the module exits 1 at the end; else 0.
// Used by the tests of tasks' writable rootfs views: what a guest changes must never reach the image's store.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failed = 0;

static void fail(const char *step, const char *path) {
  printf("%s %s: %s\n", step, path, strerror(errno));
  failed = 1;
}

static void put(const char *step, const char *path, const char *text, int flags) {
  int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) return fail(step, path);
  size_t n = strlen(text);
  if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1) fail(step, path);
  else printf("%s %s: ok\n", step, path);
  close(fd);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *op = argv[i];
    const char *a = i + 1 < argc ? argv[i + 1] : "";
    const char *b = i + 2 < argc ? argv[i + 2] : "";
    if (!strcmp(op, "append")) put(op, a, b, O_APPEND), i += 2;
    else if (!strcmp(op, "write")) put(op, a, b, O_TRUNC), i += 2;
    else if (!strcmp(op, "rm")) {
      if (unlink(a)) fail(op, a);
      else printf("rm %s: ok\n", a);
      i += 1;
    } else if (!strcmp(op, "link")) {
      if (link(a, b)) fail(op, a);
      else printf("link %s %s: ok\n", a, b);
      i += 2;
    } else if (!strcmp(op, "read")) {
      char buf[4096];
      int fd = open(a, O_RDONLY);
      if (fd < 0) fail(op, a);
      else {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        for (char *p = buf; *p; p++)
          if (*p == '\n') *p = '|';
        printf("read %s: %s\n", a, buf);
        close(fd);
      }
      i += 1;
    } else if (!strcmp(op, "sleep")) {
      long ms = atol(a);
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      fflush(stdout);
      nanosleep(&ts, NULL);
      i += 1;
    } else if (!strcmp(op, "waitfor")) {
      struct timespec ts = {0, 20 * 1000000L};
      fflush(stdout);
      while (access(a, F_OK) != 0) nanosleep(&ts, NULL);
      printf("waitfor %s: ok\n", a);
      i += 1;
    } else {
      printf("%s: unknown step\n", op);
      return 2;
    }
  }
  return failed;
}
