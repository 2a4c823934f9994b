// Tries to reach what a guest must not see and prints one line per attempt, so a test can assert on each:
//   preopens            the preopened directories the runtime gave (fd 3 upward, by their guest names)
//   read PATH           "read PATH: ok <first line>" or "read PATH: <errno text>"
//   list PATH           "list PATH: <names...>" or the errno text
//   symlink TARGET LINK "symlink TARGET LINK: ok" or the errno text (a guest-made link, then read through it)
//   rename FROM TO      "rename FROM TO: ok" or the errno text (moves a file, directory or symlink itself)
//   link FROM TO        "link FROM TO: ok" or the errno text (a hard link; a symlink is linked, not followed)
//   renameat DIR FROM TO "renameat DIR FROM TO: ok" or the errno text (FROM and TO relative to DIR, opened first)
//   readnofollow PATH   as read, but opened with O_NOFOLLOW (no LOOKUP_SYMLINK_FOLLOW on the last component)
// Arguments are taken in order: `preopens read /../etc/hostname symlink /etc /x read /x/hostname`.
// Exits 0 whatever it finds: the findings are the output.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

static void read_one(const char *step, const char *path, int flags) {
  int fd = open(path, O_RDONLY | flags);
  if (fd < 0) {
    printf("%s %s: %s\n", step, path, strerror(errno));
    return;
  }
  char line[256] = "";
  ssize_t n = read(fd, line, sizeof line - 1);
  line[n > 0 ? n : 0] = 0;
  line[strcspn(line, "\n")] = 0;
  printf("%s %s: ok %s\n", step, path, line);
  close(fd);
}

static void two_paths(const char *step, int (*op)(const char *, const char *), const char *from,
                      const char *to) {
  if (op(from, to) == 0) printf("%s %s %s: ok\n", step, from, to);
  else printf("%s %s %s: %s\n", step, from, to, strerror(errno));
}

static void list_one(const char *path) {
  DIR *d = opendir(path);
  if (!d) {
    printf("list %s: %s\n", path, strerror(errno));
    return;
  }
  printf("list %s:", path);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) printf(" %s", e->d_name);
  }
  printf("\n");
  closedir(d);
}

static void preopens(void) {
  printf("preopens:");
  for (__wasi_fd_t fd = 3; fd < 64; fd++) {
    __wasi_prestat_t p;
    if (__wasi_fd_prestat_get(fd, &p) != 0) continue;
    char name[256] = "";
    size_t len = p.u.dir.pr_name_len < sizeof name - 1 ? p.u.dir.pr_name_len : sizeof name - 1;
    if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len) == 0) name[len] = 0;
    printf(" %s", name);
  }
  printf("\n");
}

static void rename_at(const char *dir, const char *from, const char *to) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0 || renameat(fd, from, fd, to) != 0) printf("renameat %s %s %s: %s\n", dir, from, to, strerror(errno));
  else printf("renameat %s %s %s: ok\n", dir, from, to);
  if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "preopens")) preopens();
    else if (!strcmp(argv[i], "read") && i + 1 < argc) read_one("read", argv[++i], 0);
    else if (!strcmp(argv[i], "readnofollow") && i + 1 < argc) read_one("readnofollow", argv[++i], O_NOFOLLOW);
    else if (!strcmp(argv[i], "list") && i + 1 < argc) list_one(argv[++i]);
    else if (!strcmp(argv[i], "symlink") && i + 2 < argc) {
      two_paths("symlink", symlink, argv[i + 1], argv[i + 2]);
      i += 2;
    } else if (!strcmp(argv[i], "rename") && i + 2 < argc) {
      two_paths("rename", rename, argv[i + 1], argv[i + 2]);
      i += 2;
    } else if (!strcmp(argv[i], "renameat") && i + 3 < argc) {
      rename_at(argv[i + 1], argv[i + 2], argv[i + 3]);
      i += 3;
    } else if (!strcmp(argv[i], "link") && i + 2 < argc) {
      two_paths("link", link, argv[i + 1], argv[i + 2]);
      i += 2;
    } else {
      fprintf(stderr, "escape-probe: unknown step %s\n", argv[i]);
      return 2;
    }
  }
  return 0;
}
