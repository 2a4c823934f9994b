// Fails the way wasi-testsuite's Rust wasip1 tests fd_filestat_set and symlink_filestat fail under a runtime
// that gets timestamps wrong: a panic message on stderr holding run-dependent numbers (a file's mtime and the
// clock, in nanoseconds), then a trap (Rust's panic=abort is `unreachable`). Used by the conformance tests: two
// runs agree on the exit status and stdout, never on those numbers.
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

int main(void) {
  struct stat st;
  struct timespec now;
  FILE *f = fopen("/stat-panic.tmp", "w");
  if (f) fclose(f);
  long long mtime = stat("/stat-panic.tmp", &st) == 0 ? st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec : -1;
  remove("/stat-panic.tmp");
  clock_gettime(CLOCK_REALTIME, &now);
  long long clock = now.tv_sec * 1000000000LL + now.tv_nsec;
  printf("checking mtime\n");
  fflush(stdout);
  fprintf(stderr,
          "thread 'main' panicked at src/bin/fd_filestat_set.rs:26:5:\n"
          "assertion `left == right` failed\n  left: %lld\n right: %lld\n"
          "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
          mtime, clock + 1);
  __builtin_trap();
}
